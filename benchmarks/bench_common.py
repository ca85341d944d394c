"""What the benchmark scripts share: a fresh copy of the workflow, and the name of the CPU they ran on."""

import json
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from workflow_copy import copy_workflow  # noqa: E402,F401  (found through the path set above; re-exported)


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def peak_mb() -> float:
    """This process's peak RSS (VmHWM; getrusage's ru_maxrss carries the parent's over a fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def in_fresh_process(script: str, worker: str, *args: str) -> dict:
    """Run `script --worker worker args` in a new interpreter, so that its peak RSS and imports
    are its own, and return the JSON its last line printed."""
    proc = subprocess.run([sys.executable, script, "--worker", worker, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{worker} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def serve_worker(workers: dict, args: list[str]) -> None:
    """The worker side of in_fresh_process: run one worker, print its result and peak RSS."""
    name, *rest = args
    print(json.dumps({**workers[name](*rest), "peak_mb": peak_mb()}))
