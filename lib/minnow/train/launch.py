"""Multi-process training: the train step re-launches itself under torchrun.

A Snakemake `script:` runs in one process, so for a preset with `gpus > 1` the
step writes its `TrainJob` to JSON and starts `torch.distributed.run` with one
process per GPU, each running `python -m minnow.train.launch JOB RUN_ID`. Rank 0
logs its metrics into the step's own MLflow run, so a DDP run looks like any
other in the UI. On a CPU-only machine the same path runs gloo processes, which
is how the tests exercise it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from minnow.atomic import write_json
from minnow.errors import InputError
from minnow.train.job import TrainJob


def torchrun(job: TrainJob, nproc: int, run_id: str | None) -> dict:
    """Run `job.run()` in `nproc` DDP processes; return rank 0's summary."""
    job.checkpoints.mkdir(parents=True, exist_ok=True)
    job_file = job.checkpoints / "launch.json"
    write_json(job_file, job.to_json())
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "minnow.train.launch",
        str(job_file),
        run_id or "",
    ]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        raise InputError(
            f"training under torchrun with {nproc} processes failed (exit {proc.returncode}); "
            "the failing rank's message is above"
        )
    return json.loads(job.summary.read_text())


def main(job_file: str, run_id: str) -> None:
    job = TrainJob.from_json(json.loads(Path(job_file).read_text()))
    on_metrics = None
    if run_id and int(os.environ.get("RANK", 0)) == 0:
        from minnow.workflow import tracking

        on_metrics = tracking.attach(run_id).log_step_metrics
    try:
        job.run(on_metrics=on_metrics, progress=False)
    except InputError as e:  # one clean line per rank, as a single-process step would print
        print(f"minnow: ERROR: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(*sys.argv[1:3])
