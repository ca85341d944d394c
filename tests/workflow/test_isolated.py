"""A step's work in a child process: results and errors come back, and a kill is named."""

import signal
import threading
import time

import pytest

from minnow.errors import InputError
from minnow.workflow import isolated


def refuse(path):
    raise InputError(f"{path}:3: not JSON")


def refuse_with_a_cause():
    try:
        {}["missing"]
    except KeyError as e:
        raise InputError("lm-eval failed scoring tiny") from e


def fail():
    return {}["missing"]


def hold_memory_until_killed():
    ballast = bytearray(50 * 2**20)  # noqa: F841 - the memory a scorer holds when the OOM killer picks it
    time.sleep(60)


def kill_child_from_outside(sig: signal.Signals) -> threading.Thread:
    """SIGKILL/SIGTERM the work's process once it runs, as the OOM killer or a scheduler would."""
    import multiprocessing
    import os

    def killer():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = multiprocessing.active_children()
            if children:
                time.sleep(0.5)
                os.kill(children[0].pid, sig)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread


def test_the_result_comes_back():
    assert isolated.call(sorted, [3, 1, 2], what="sorting") == [1, 2, 3]


def test_bad_input_in_the_work_is_raised_with_its_message():
    with pytest.raises(InputError, match=r"^eval\.jsonl:3: not JSON$"):
        isolated.call(refuse, "eval.jsonl", what="scoring")


def test_bad_input_caused_by_another_error_brings_that_errors_traceback_along():
    """For the rule log: the terminal shows the message, the log the traceback of its cause."""
    import traceback

    with pytest.raises(InputError, match=r"^lm-eval failed scoring tiny\n") as e:
        isolated.call(refuse_with_a_cause, what="scoring")
    logged = "".join(traceback.format_exception(e.value))
    assert "KeyError: 'missing'" in logged and "in refuse_with_a_cause" in logged


def test_another_failure_comes_back_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"(?s)KeyError: 'missing'.*") as e:
        isolated.call(fail, what="scoring")
    assert "in fail" in str(e.value)


def test_a_kill_says_which_signal_and_that_memory_is_the_usual_cause():
    started = time.monotonic()
    kill_child_from_outside(signal.SIGKILL)
    with pytest.raises(InputError) as e:
        isolated.call(hold_memory_until_killed, what="lm-eval on reference smollm2", mem_mb=3674)
    message = str(e.value)
    assert message.startswith("lm-eval on reference smollm2 was killed by SIGKILL (signal 9)")
    assert "out-of-memory killer" in message and "mem_mb=3674" in message and "--set-resources" in message
    assert time.monotonic() - started < 30  # told at once, not after the work's minute


def test_another_signal_is_named_without_the_memory_hint():
    kill_child_from_outside(signal.SIGTERM)
    with pytest.raises(InputError, match=r"^scoring tiny was killed by SIGTERM \(signal 15\)$"):
        isolated.call(hold_memory_until_killed, what="scoring tiny")


def exit_quietly(status: int):
    import os

    os._exit(status)  # no exception, no result: as a library calling exit() deep inside would


@pytest.mark.parametrize("status", [0, 3])
def test_a_child_that_exits_without_a_result_is_said_so_with_its_status(status):
    with pytest.raises(InputError, match=rf"^scoring tiny ended with exit status {status} before returning a result$"):
        isolated.call(exit_quietly, status, what="scoring tiny")
