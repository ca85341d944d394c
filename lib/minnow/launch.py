"""Multi-process training: the train step re-launches itself under torchrun.

A Snakemake `script:` runs in one process, so for a preset with `gpus > 1` the
step writes its arguments to JSON and starts `torch.distributed.run` with one
process per GPU, each running `python -m minnow.launch ARGS RUN_ID`. Rank 0
logs its metrics into the step's own MLflow run, so a DDP run looks like any
other in the UI. On a CPU-only machine the same path runs gloo processes, which
is how the tests exercise it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from minnow import training
from minnow.atomic import write_json
from minnow.errors import InputError

PATH_ARGS = ("shards", "tokenizer_json", "curve", "summary")


def _encode(args: dict) -> dict:
    paths = args["paths"]
    return {**{k: str(v) if k in PATH_ARGS else v for k, v in args.items() if k != "paths"},
            "paths": {"checkpoints": str(paths.checkpoints), "weights": str(paths.weights), "config": str(paths.config)}}


def _decode(data: dict) -> dict:
    return {**{k: Path(v) if k in PATH_ARGS else v for k, v in data.items() if k != "paths"},
            "paths": training.Paths(**{k: Path(v) for k, v in data["paths"].items()})}


def torchrun(args: dict, nproc: int, run_id: str | None) -> dict:
    """Run `training.train_model(**args)` in `nproc` DDP processes; return rank 0's summary."""
    folder = Path(args["paths"].checkpoints)
    folder.mkdir(parents=True, exist_ok=True)
    args_file = folder / "launch.json"
    write_json(args_file, _encode(args))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "minnow.launch", str(args_file), run_id or ""]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        raise InputError(f"training under torchrun with {nproc} processes failed (exit {proc.returncode}); "
                         "the failing rank's message is above")
    return json.loads(Path(args["summary"]).read_text())


def main(args_file: str, run_id: str) -> None:
    args = _decode(json.loads(Path(args_file).read_text()))
    on_metrics = None
    if run_id and int(os.environ.get("RANK", 0)) == 0:
        from minnow import tracking

        on_metrics = tracking.attach(run_id).log_step_metrics
    try:
        training.train_model(**args, on_metrics=on_metrics, progress=False)
    except InputError as e:  # one clean line per rank, as a single-process step would print
        print(f"minnow: ERROR: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main(*sys.argv[1:3])
