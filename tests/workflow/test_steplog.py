"""The rule log holds everything a step says: logging, warnings, progress bars, child processes, tracebacks."""

import subprocess
import sys
import textwrap

STEP = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from tqdm import tqdm
    from minnow.workflow import steplog

    with steplog.capture(sys.argv[1]) as rule_log:
        logging.getLogger("minnow.x").info("reading 3 files")
        warnings.warn("a deprecated option")
        for _ in tqdm(range(3), desc="encode"):
            pass
        os.write(2, b"written by C code\\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('a worker rank says hi\\\\n')"])
        try:
            raise RuntimeError("disk full")
        except RuntimeError as e:
            rule_log.failure(e)
    print("stdout untouched")
""")


def test_rule_log_holds_logging_warnings_progress_children_and_tracebacks(tmp_path):
    log = tmp_path / "logs" / "step.log"
    proc = subprocess.run([sys.executable, "-c", STEP, str(log)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    for said in (
        "reading 3 files",
        "a deprecated option",
        "encode: 100%",
        "written by C code",
        "a worker rank says hi",
        "Traceback (most recent call last)",
        "RuntimeError: disk full",
    ):
        assert said in text, said
    assert "\r" not in text  # progress-bar redraws became lines
    terminal = proc.stderr
    assert "a deprecated option" in terminal and "a worker rank says hi" in terminal and "encode: 100%" in terminal
    assert "reading 3 files" not in terminal and "Traceback" not in terminal  # INFO and tracebacks: the log only
    assert proc.stdout == "stdout untouched\n"


def test_without_a_log_file_logging_still_reaches_the_terminal(tmp_path):
    script = (
        "import logging\n"
        "from minnow.workflow import steplog\n"
        "with steplog.capture(None):\n"
        "    logging.getLogger('m').warning('low disk')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stderr == "minnow: WARNING: low disk\n"
