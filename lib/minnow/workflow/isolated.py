"""A step's heavy work in a child process, so that a kill says why.

The kernel's OOM killer, and a cluster's memory limit, end a process with
SIGKILL: nothing in the process runs after it, so a scoring step killed that way
leaves a rule log that stops mid progress bar and a Snakemake error that says
only "non-zero exit status". Run in a forked child, the work can be killed while
the step itself lives on to say which signal ended it, what memory the job was
given, and what to change. The child is forked, not spawned: a step script runs
as `__main__`, which a spawned child would run again.
"""

import multiprocessing
import signal
import traceback

from minnow.errors import InputError


def call(fn, *args, what: str, mem_mb: int | None = None):
    """`fn(*args)` run in a child process: its result, or its exception raised here; an
    InputError naming the signal where the child was killed. `what` names the work and
    `mem_mb` is the memory the job was given, both for that message."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, fn, args))
    child.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:  # the child ended without a word: killed, or exited from under us
        outcome = None
    child.join()
    if outcome is None:
        raise InputError(ended_message(what, child.exitcode, mem_mb))
    ok, value = outcome
    if not ok:
        raise value
    return value


def _child(send, fn, args) -> None:
    try:
        outcome = (True, fn(*args))
    except InputError as e:  # its cause's traceback, which pickling drops, rides along as a note for the log
        if e.__cause__ is not None:
            e.add_note("".join(traceback.format_exception(e.__cause__)))
        outcome = (False, e)
    except BaseException:  # noqa: BLE001 - every failure goes back to the step to report
        outcome = (False, RuntimeError(traceback.format_exc()))
    send.send(outcome)
    send.close()


def ended_message(what: str, exitcode: int | None, mem_mb: int | None) -> str:
    """What the user reads when the work's process died without a result."""
    if exitcode is None or exitcode >= 0:
        return f"{what} ended with exit status {exitcode} before returning a result"
    name = signal.Signals(-exitcode).name
    message = f"{what} was killed by {name} (signal {-exitcode})"
    if -exitcode != signal.SIGKILL:
        return message
    given = f" (this job was given mem_mb={mem_mb})" if mem_mb else ""
    return (
        f"{message}. The usual cause is memory: the kernel's out-of-memory killer, or the cluster's "
        f"memory limit{given}. Give the job more (--set-resources <rule>:mem_mb=...), or lower "
        "evaluation.batch_tokens (or evaluation.downstream.batch_size)"
    )
