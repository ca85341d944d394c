"""A step's rule log: everything the step says lands in the file Snakemake names in `log:`.

A user debugging a failed or slow job (often on a cluster node, long after the
terminal scrolled away) reads the rule log, so it must hold more than Python
`logging` records: warnings, progress bars, what libraries and C++ code print to
stderr, the output of worker processes (torchrun's ranks), and the traceback of
a failure. `capture` therefore tees the process's stderr file descriptor into
the log, beside the logging records that stay off the terminal (INFO), while the
terminal keeps seeing what it saw before. Progress-bar redraws (`\\r`) become
lines in the file.
"""

import logging
import os
import sys
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path

TERMINAL_FORMAT = "minnow: %(levelname)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class StepLog:
    """The log of one step; `failure()` keeps an exception's traceback for its end."""

    def __init__(self):
        self.tracebacks: list[str] = []

    def failure(self, error: BaseException) -> None:
        """The traceback goes to the log only (the terminal gets one line, or Python's own),
        after everything the step wrote before it."""
        self.tracebacks.append("".join(traceback.format_exception(type(error), error, error.__traceback__)))


class _BelowWarning(logging.Filter):
    def filter(self, record):
        return record.levelno < logging.WARNING


def _setup_logging(log_file: Path | None) -> list[logging.Handler]:
    """WARNING and above to stderr (and so, teed, to the log); INFO straight to the log."""
    terminal = logging.StreamHandler(sys.stderr)
    terminal.setLevel(logging.WARNING)
    terminal.setFormatter(logging.Formatter(TERMINAL_FORMAT))
    handlers = [terminal]
    if log_file is not None:
        info = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        info.addFilter(_BelowWarning())
        info.setFormatter(logging.Formatter(FILE_FORMAT))
        handlers.append(info)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    logging.captureWarnings(True)
    return handlers


def _remove_logging(handlers: list[logging.Handler]) -> None:
    logging.captureWarnings(False)
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()


@contextmanager
def _tee_stderr(log):
    """Copy everything written to file descriptor 2, by this process or its children, to `log`."""
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                os.write(terminal, chunk)
                log.write(chunk.replace(b"\r", b"\n"))

    thread = threading.Thread(target=pump, name="steplog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # the pipe's last writer here closes; the pump drains and stops
        thread.join(timeout=10)  # a child still holding the pipe keeps it open: stop waiting
        os.close(terminal)


@contextmanager
def capture(log_file: str | Path | None):
    """Within the block, the rule log `log_file` receives logging records, warnings and
    everything written to stderr; with no log file, only logging is set up."""
    step_log = StepLog()
    if log_file is None:
        handlers = _setup_logging(None)
        try:
            yield step_log
        finally:
            _remove_logging(handlers)
        return
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_bytes(b"")
    with open(log_file, "ab", buffering=0) as raw:  # appends, as the INFO handler does
        handlers = _setup_logging(log_file)
        try:
            with _tee_stderr(raw):
                yield step_log
        finally:
            _remove_logging(handlers)
            for text in step_log.tracebacks:
                raw.write(text.encode("utf-8", "replace"))
