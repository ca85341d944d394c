import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import torch

from minnow.cli import converse
from minnow.inference.chat import Assistant

MINNOW = str(Path(sys.executable).parent / "minnow")


def minnow(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The console command, computing on one thread as `in_process` does: sums in another order
    can flip a near-tie between two next tokens (a model trained in a test has some)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([MINNOW, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env)


@contextlib.contextmanager
def in_process():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def test_sample_prints_the_prompt_and_its_continuation(model_folder):
    proc = minnow("sample", str(model_folder), "the guppy", "--max-tokens", "12", "--seed", "3", "--top-k", "20")
    assert proc.returncode == 0, proc.stderr
    with in_process():
        expected = Assistant.load(model_folder).complete("the guppy", 12, temperature=0.8, top_k=20, seed=3)
    assert proc.stdout == f"the guppy{expected}\n"


def test_chat_answers_piped_lines_until_quit(model_folder):
    proc = minnow(
        "chat", str(model_folder), "--temperature", "0", "--max-tokens", "16", stdin="hi\n/quit\nnever read\n"
    )
    assert proc.returncode == 0, proc.stderr
    with in_process():
        reply = Assistant.load(model_folder).chat([{"role": "user", "content": "hi"}], max_tokens=16, temperature=0)
    assert proc.stdout == reply["choices"][0]["message"]["content"] + "\n"  # one answer, then /quit
    assert proc.stderr == ""  # no prompt when stdin is not a terminal


class Recorder:
    """Stands in for an Assistant: records what each turn is asked with; its fit keeps
    the system turn and the last exchange, so a test sees that trimming is applied."""

    def __init__(self):
        self.asked = []

    def chat(self, messages, **options):
        self.asked.append([m["content"] for m in messages])
        return {"choices": [{"message": {"role": "assistant", "content": f"answer {len(self.asked)}"}}]}

    def fit(self, messages, max_tokens):
        return messages[:1] + messages[-2:]


def test_chat_keeps_the_fitted_conversation_and_reset_forgets_it():
    recorder, out = Recorder(), io.StringIO()
    lines = ["hi", "how are you?", "what now?", "/reset", "again", "/quit", "never read"]
    converse(recorder, iter(lines), [{"role": "system", "content": "be brief"}], {"max_tokens": 8}, out)
    assert recorder.asked == [
        ["be brief", "hi"],
        ["be brief", "hi", "answer 1", "how are you?"],
        ["be brief", "how are you?", "answer 2", "what now?"],
        ["be brief", "again"],
    ]
    assert out.getvalue() == "answer 1\nanswer 2\nanswer 3\nanswer 4\n"


def test_a_missing_model_folder_is_one_error_line_not_a_traceback(tmp_path):
    missing = tmp_path / "no-model-here"
    proc = minnow("sample", str(missing), "hi")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("minnow: ERROR:") and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr
