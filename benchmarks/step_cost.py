"""A step job's fixed cost: what a job pays before it does any work, split by where it goes.

    python benchmarks/step_cost.py [--repeats 3]

Measures, each in fresh interpreters and as the median of `--repeats` runs:
  interpreter   `python -c pass`
  imports       a step script's imports: minnow.tokens.shards and minnow.workflow.tracking
                (the `shard` step, which only writes one small meta.json), then torch and
                mlflow on their own
  mlflow        a step's MLflow calls on a SQLite store (created beforehand, as the Snakefile
                does): the store checked, a run created, one param logged, the run ended
  snakemake     the `shard` job forced on a finished build of the shards, against the same
                call planning only (`-n`): the difference is the job (the rule has no
                `benchmark:` TSV)
Prints a Markdown table with each figure as a share of the shard job's own cost.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import copy_workflow, cpu_name

BIN = Path(sys.executable).parent
SHARDS = "results/shards/default/bpe4k/meta.json"
STEP_RUN = """
import os, sys
os.chdir(sys.argv[1])
from mlflow.tracking import MlflowClient
from minnow.workflow import tracking
uri = tracking.tracking_uri()
client = MlflowClient(uri)
run = client.create_run(tracking.ensure_store("step-cost", uri), tags={"step": "shard"})
client.log_param(run.info.run_id, "code", "0123456789abcdef")
client.set_terminated(run.info.run_id)
"""


def seconds(code: str, *args: str, repeats: int) -> float:
    """Median wall time of a fresh interpreter running `code`."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def forced_shard(folder: Path, repeats: int) -> tuple[float, float]:
    """Median wall time of `snakemake` forcing the shard job, and of the same call planning it only
    (`-n`): their difference is what the job itself costs."""
    cmd = [str(BIN / "snakemake"), "--cores", "2", SHARDS, "--forcerun", "shard"]
    walls, plans = [], []
    for _ in range(repeats):
        for args, into in (([], walls), (["-n"], plans)):
            start = time.perf_counter()
            subprocess.run([*cmd, *args], cwd=folder, check=True, capture_output=True)
            into.append(time.perf_counter() - start)
    return statistics.median(walls), statistics.median(plans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_workflow(Path(tmp) / "minnow")
        subprocess.run([str(BIN / "snakemake"), "--cores", "2", SHARDS], cwd=folder, check=True, capture_output=True)
        store = Path(tmp) / "store"
        (store / "results").mkdir(parents=True)
        subprocess.run([sys.executable, "-c", STEP_RUN, str(store)], check=True, capture_output=True)  # creates it
        n = args.repeats
        rows = {
            "interpreter (`python -c pass`)": seconds("pass", repeats=n),
            "a step's imports (shards, tracking)": seconds(
                "import minnow.tokens.shards, minnow.workflow.tracking", repeats=n
            ),
            "`import torch`": seconds("import torch", repeats=n),
            "`import mlflow`": seconds("import mlflow", repeats=n),
            "a step's MLflow calls (imports included)": seconds(STEP_RUN, str(store), repeats=n),
        }
        wall, plan = forced_shard(folder, n)
    job = wall - plan
    rows["the `shard` job forced: the `snakemake` call"] = wall
    rows["the same call planning only (`-n`)"] = plan
    rows["the `shard` job itself (the difference)"] = job
    print(f"CPU: {cpu_name()}; median of {n} runs, fresh interpreters\n")
    print("| what | seconds | share of the shard job |\n|---|---:|---:|")
    for what, value in rows.items():
        print(f"| {what} | {value:.2f} | {value / job:.0%} |")


if __name__ == "__main__":
    main()
