"""torchrun: DDP ranks together compute the one-process run."""

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from minnow.errors import InputError
from minnow.train import launch

from conftest import train_job
from training_runs import VOCAB, spec, train_in_process


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_matches_one_process_on_the_same_global_batch(tmp_path, chat_shards):
    single = train_in_process(tmp_path / "one", chat_shards, spec(steps=6, batch_size=8))
    job = train_job(tmp_path / "two", *chat_shards, spec(steps=6, batch_size=4, gpus=2), VOCAB)
    double = launch.torchrun(job, nproc=2, run_id=None)
    assert double["steps"] == 6
    assert np.allclose(
        [loss for _, loss in double["history"]["train"]],
        [loss for _, loss in single["history"]["train"]],
        atol=1e-4,
    )


def losses(summary: dict) -> list[float]:
    return [loss for _, loss in summary["history"]["train"]]


def fp32(**train) -> dict:
    """A preset trained in fp32, so that runs on different numbers of ranks agree to rounding."""
    return spec(precision="fp32", **train)


@pytest.mark.slow
def test_fsdp_shards_over_two_gloo_processes_and_matches_one_process(tmp_path, chat_shards):
    """FSDP2 on CPU with gloo: parameters, gradients and AdamW state sharded over two ranks,
    the curve the one-process run's to 1e-5 (answers-only: ranks count different targets),
    the model folder one whole file."""
    from safetensors.torch import load_file

    single = train_in_process(tmp_path / "one", chat_shards, fp32(steps=6, batch_size=8, loss_on="answers"))
    sharded_spec = fp32(steps=6, batch_size=4, gpus=2, parallel="fsdp", loss_on="answers")
    sharded = launch.torchrun(train_job(tmp_path / "two", *chat_shards, sharded_spec, VOCAB), nproc=2, run_id=None)
    assert sharded["parallel"] == "fsdp" and sharded["ranks"] == 2 and len(sharded["peak_memory_mb_per_rank"]) == 2
    assert np.allclose(losses(sharded), losses(single), atol=1e-5, rtol=0)
    assert sharded["best_val_loss"] == pytest.approx(single["best_val_loss"], abs=1e-5)
    ours, theirs = (load_file(str(tmp_path / f"{run}/model.safetensors")) for run in ("two", "one"))
    assert ours.keys() == theirs.keys()
    assert all(np.allclose(ours[k].numpy(), theirs[k].numpy(), atol=1e-5) for k in ours)


def kill_all(proc) -> None:
    """SIGKILL torchrun and its workers, which torchrun starts in sessions of their own (killing
    its group alone leaves them training, and writing checkpoints beside the resumed run)."""
    import signal
    import subprocess
    import time

    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    workers = [int(pid) for pid in found]
    for pid in [proc.pid, *workers]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    while any(running(pid) for pid in workers):
        time.sleep(0.01)


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_a_killed_fsdp_run_resumes_on_another_number_of_ranks_to_the_same_curve(tmp_path, chat_shards):
    """Killed after a checkpoint on two ranks, resumed in one process drawing the same global batch."""
    import subprocess
    import sys
    import time

    whole = train_in_process(tmp_path / "whole", chat_shards, fp32(steps=40, batch_size=8, parallel="fsdp"))
    job = train_job(tmp_path / "run", *chat_shards, fp32(steps=40, batch_size=4, gpus=2, parallel="fsdp"), VOCAB)
    job.checkpoints.mkdir(parents=True)
    (job.checkpoints / "job.json").write_text(json.dumps(job.to_json()))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd += ["-m", "minnow.train.launch", str(job.checkpoints / "job.json"), ""]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.time() + 300
    while not list(job.checkpoints.glob("*/last.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    kill_all(proc)
    assert not job.summary.exists()  # killed before the end
    one = train_job(tmp_path / "run", *chat_shards, fp32(steps=40, batch_size=8, parallel="fsdp"), VOCAB)
    resumed = one.run(progress=False, threads=1)
    assert resumed["resumed"] and 0 < resumed["steps_trained"] < 40
    assert np.allclose(losses(resumed), losses(whole), atol=1e-5, rtol=0)


def test_one_node_runs_torchrun_standalone_and_more_need_a_slurm_allocation():
    assert launch.command(2, 1, {})[-2:] == ["--nproc_per_node=2", "--standalone"]
    with pytest.raises(InputError, match="train.nodes: 2 nodes need a SLURM allocation"):
        launch.command(8, 2, {})


def test_across_nodes_srun_starts_one_agent_per_node_meeting_on_the_first(monkeypatch):
    """torchtitan's layout: one torchrun agent per node, c10d rendezvous on the allocation's first
    host; where the allocation has fewer nodes (the one-node test cluster) tasks stand in for them."""
    monkeypatch.setattr(launch, "first_node", lambda env: "gpu-017")
    env = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu-[017-018]", "SLURM_JOB_NUM_NODES": "2"}
    cmd = launch.command(8, 2, env)
    srun = ["srun", "--overlap", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    assert cmd[: cmd.index("-m") - 1] == srun
    assert cmd[cmd.index("torch.distributed.run") + 1 :] == [
        "--nproc_per_node=8",
        "--nnodes=2",
        "--rdzv_id=4242",
        "--rdzv_backend=c10d",
        "--rdzv_endpoint=gpu-017:29500",
    ]
    assert "--ntasks-per-node=1" not in launch.command(1, 2, env | {"SLURM_JOB_NUM_NODES": "1"})


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_run_naming_it_instead_of_hanging(tmp_path, chat_shards):
    """SIGKILL one of two ranks mid-run: torchrun stops the other and exits non-zero at once,
    its report naming the dead rank, where the survivor would otherwise wait in a collective."""
    import signal
    import subprocess
    import time

    job = train_job(tmp_path / "run", *chat_shards, fp32(steps=400, batch_size=4, gpus=2, parallel="fsdp"), VOCAB)
    job.checkpoints.mkdir(parents=True)
    (job.checkpoints / "job.json").write_text(json.dumps(job.to_json()))
    cmd = [*launch.command(2, 1, {}), "-m", "minnow.train.launch", str(job.checkpoints / "job.json"), ""]
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not list(job.checkpoints.glob("*/last.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    killed_at = time.time()
    os.kill(int(workers[1]), signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a hang: do not leave it running
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and time.time() - killed_at < 60
    assert "rank: " in err and "exitcode: -9" in err and not job.summary.exists()
