"""Multi-process training: the train step re-launches itself under torchrun.

A Snakemake `script:` runs in one process, so for a preset with `gpus > 1` or
`nodes > 1` the step writes its `TrainJob` to JSON and starts
`torch.distributed.run` with one process per GPU, each running
`python -m minnow.train.launch JOB RUN_ID`. On one node torchrun runs standalone.
Across nodes the step runs inside a SLURM allocation of `nodes` nodes: `srun`
starts one torchrun agent per node, and the agents rendezvous (c10d) on the
allocation's first node, as torchtitan's multi-node script does. Rank 0 logs its
metrics into the step's own MLflow run, so a distributed run looks like any other
in the UI. On a CPU-only machine the same path runs gloo processes, which is how
the tests exercise it.

A rank that dies makes torchrun stop the others and exit non-zero, with the
failing rank and its error in the step's log; a rank stuck in a collective gives
up after `devices.COLLECTIVE_TIMEOUT` instead of hanging the job.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from minnow.atomic import write_json
from minnow.errors import InputError
from minnow.train.job import TrainJob

log = logging.getLogger(__name__)
RDZV_PORT = 29500


def torchrun(job: TrainJob, nproc: int, run_id: str | None, nodes: int = 1) -> dict:
    """Run `job.run()` in `nproc` processes on each of `nodes` nodes; return rank 0's summary."""
    job.checkpoints.mkdir(parents=True, exist_ok=True)
    job_file = job.checkpoints / "launch.json"
    write_json(job_file, job.to_json())
    worker = ["-m", "minnow.train.launch", str(job_file), run_id or ""]
    cmd = command(nproc, nodes, dict(os.environ), on_cpu=job.spec["train"]["device"] == "cpu") + worker
    log.info("launching %s", " ".join(cmd))
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        raise InputError(
            f"training under torchrun with {nproc} processes on {nodes} node(s) failed (exit {proc.returncode}); "
            "the failing rank and its message are above"
        )
    return json.loads(job.summary.read_text())


def command(nproc: int, nodes: int, env: dict, on_cpu: bool = False) -> list[str]:
    """The launch command before the worker module: torchrun standalone on one node; across
    nodes, srun starting one torchrun agent per node of the SLURM allocation in `env`."""
    run = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"]
    if nodes == 1:
        return [*run, "--standalone"]
    if "SLURM_JOB_ID" not in env:
        raise InputError(
            f"train.nodes: {nodes} nodes need a SLURM allocation (run through --profile profiles/slurm, "
            "which asks for them); on one machine use train.gpus"
        )
    srun = ["srun", "--overlap", f"--ntasks={nodes}", *agents_per_node(nodes, env, on_cpu), "--kill-on-bad-exit=1"]
    rendezvous = [
        f"--nnodes={nodes}",
        f"--rdzv_id={env['SLURM_JOB_ID']}",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint={first_node(env)}:{RDZV_PORT}",
    ]
    return [*srun, *run, *rendezvous]


def agents_per_node(nodes: int, env: dict, on_cpu: bool) -> list[str]:
    """srun's option for one torchrun agent per node, where the allocation has a node for
    each. Where it has fewer (a profile or `--set-resources` asked for fewer nodes), GPU
    ranks of two agents would share a node's cards: refused; a `train.device: cpu` run's
    ranks can share a node's cores: it runs so, with a warning, as on a one-node test cluster."""
    allocated = int(env.get("SLURM_JOB_NUM_NODES", env.get("SLURM_NNODES", 1)))
    if allocated >= nodes:
        return ["--ntasks-per-node=1"]
    if not on_cpu:
        raise InputError(
            f"train.nodes: {nodes} nodes, but this SLURM allocation has {allocated}: its ranks would share "
            "GPUs; ask the cluster for the nodes (the train rule's `nodes` resource, which the profile passes on)"
        )
    log.warning("train.nodes: %d torchrun agents share the allocation's %d node(s) (a CPU run)", nodes, allocated)
    return []


def first_node(env: dict) -> str:
    """The allocation's first host, where the agents meet (`scontrol show hostnames`)."""
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not nodelist:
        raise InputError("a SLURM allocation without SLURM_JOB_NODELIST: cannot tell where the ranks meet")
    hosts = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=False)
    if hosts.returncode != 0 or not hosts.stdout.split():
        raise InputError(f"scontrol show hostnames {nodelist} failed: {hosts.stderr.strip()}")
    return hosts.stdout.split()[0]


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
