"""profiles/slurm on a real one-node SLURM cluster: the tiny pipeline to ppl.json, every job an sbatch job.

The cluster comes up on 127.0.0.1 (tests/slurm_cluster.py); the executor plugin is
installed into a folder of its own and put on PYTHONPATH for this test only, since
installed beside SLURM's client tools it slows every other test's snakemake call.
Skipped, with the reason, where there is no root or the packages cannot be had.
"""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import slurm_cluster
from conftest import BIN, REPO, copy_workflow, small_config, write_config

pytestmark = pytest.mark.slow


def plugin_folder(root: Path) -> Path:
    """pip-install the pinned `slurm` extra of pyproject.toml into `root` (its other needs are in the venv)."""
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["slurm"]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(root), *pins],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot install the SLURM executor plugin ({' '.join(pins)}): {done.stderr.strip()[-300:]}")
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        running = slurm_cluster.start(tmp_path_factory.mktemp("slurm"))
    except slurm_cluster.Unavailable as e:
        pytest.skip(f"no SLURM cluster here: {e}")
    yield running
    running.stop()


def cluster_config() -> dict:
    """A model small enough that the test measures SLURM, not training; no reference model."""
    config = small_config()
    config["sources"]["guppy"]["parts"] = 2  # each part its own download, prepare_part, mix_part and shard_part jobs
    train = {
        "steps": 20,
        "batch_size": 4,
        "warmup_steps": 2,
        "eval_every": 10,
        "eval_batches": 2,
        "checkpoint_every": 10,
        "device": "cpu",
    }
    config["models"] = {
        "nano": {
            "corpus": "default",
            "tokenizer": "bpe512",
            "d_model": 32,
            "n_layers": 1,
            "n_heads": 2,
            "n_kv_heads": 1,
            "ffn_dim": 64,
            "context": 32,
            "train": train,
        }
    }
    # the same model on two "nodes": two SLURM tasks stand in for them on this one-node cluster
    two_nodes = {"nodes": 2, "parallel": "fsdp", "precision": "fp32", "batch_size": 2}
    config["models"]["nano2"] = {**config["models"]["nano"], "train": train | two_nodes}
    config["references"] = {}
    return config


def submitted_jobs(output: str) -> dict[int, str]:
    """SLURM job id → rule, from Snakemake's 'submitted with SLURM jobid N (log: .../rule_X/...)' lines."""
    found = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", output)
    return {int(job): rule for job, rule in found}


def tres_mem_mb(tres: str) -> float:
    """Memory in MB from SLURM's TRES text (`mem=4000M` or `mem=62.50G`)."""
    value, unit = re.search(r"mem=([\d.]+)([MG])", tres).groups()
    return float(value) * (1024 if unit == "G" else 1)


@pytest.fixture(scope="module")
def pipeline(cluster, tmp_path_factory) -> tuple[Path, str, str]:
    """The profile's run of the tiny pipeline to nano's ppl.json, every job an sbatch job, then
    of nano2's model; the workflow folder and each run's Snakemake output."""
    workflow = copy_workflow(tmp_path_factory.mktemp("slurm-run") / "minnow")
    write_config(workflow, cluster_config())
    env = {
        **os.environ,
        "PYTHONPATH": str(plugin_folder(tmp_path_factory.mktemp("plugin"))),
        "MINNOW_CPU_PARTITION": slurm_cluster.PARTITION,
        "MINNOW_GPU_PARTITION": slurm_cluster.PARTITION,
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    # The plugin polls sacct, as on a real cluster; there is no account to charge.
    cmd = [
        str(BIN / "snakemake"),
        "--profile",
        "profiles/slurm",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--seconds-between-status-checks",  # a loopback cluster answers at once: poll every 2 s, not 10
        "2",
        "--slurm-no-account",
    ]
    # The plugin ignores SIGTERM while it polls: `timeout -k` makes a hang fail instead of wedging CI.
    run = ["timeout", "-k", "10", "600", *cmd]
    proc = subprocess.run([*run, "results/nano/ppl.json"], cwd=workflow, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    # One node here: nano2's two agents run as two tasks on it. (A --set-resources on the command
    # line replaces the profile's, so this second run's train asks for the default resources.)
    two = [*run, "results/nano2/model.safetensors", "--set-resources", "train:nodes=1"]
    proc = subprocess.run(two, cwd=workflow, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return workflow, output, proc.stdout + proc.stderr


def test_profile_runs_the_pipeline_through_slurm(cluster, pipeline):
    workflow_copy, output, _ = pipeline
    jobs = submitted_jobs(output)
    rules = sorted(jobs.values())
    per_part = ["download", "prepare_part", "mix_part", "shard_part", "shard_part"]  # shards: train and val
    once = ["dedup", "train_tokenizer", "shard", "eval_set", "train", "perplexity"]
    assert rules == sorted(per_part * 3 + once), output[-3000:]
    accounted = cluster.steps(jobs)
    assert {str(j) for j in jobs} <= set(accounted), f"sacct has no record of jobs {set(jobs) - set(accounted)}"
    assert all(accounted[str(j)]["State"] == "COMPLETED" for j in jobs)
    # The profile's per-rule resources reached SLURM as written.
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    by_rule = {rule: accounted[str(j)] for j, rule in jobs.items()}
    for rule in ("train", "download"):
        wanted = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}
        assert by_rule[rule]["TimelimitRaw"] == str(wanted["runtime"])  # minutes
        assert tres_mem_mb(by_rule[rule]["ReqTRES"]) == eval(str(wanted["mem_mb"]), {"attempt": 1})
    assert "cpu=8," in by_rule["train"]["ReqTRES"], "train's 8 threads should be 8 SLURM CPUs"
    assert (workflow_copy / "results/nano/ppl.json").exists()


def planned_resources(output: str) -> dict[str, str]:
    """rule → its 'resources:' line, from a dry run's job listing."""
    found = re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", output, re.MULTILINE)
    return dict(found)


def test_profile_sends_gpu_rules_to_the_gpu_partition_with_the_presets_gpus(workflow_copy, tmp_path):
    """No GPU here to run on: a dry run shows what each job would ask SLURM for."""
    env = {
        **os.environ,
        "PYTHONPATH": str(plugin_folder(tmp_path / "plugin")),
        "MINNOW_CPU_PARTITION": "cpu",
        "MINNOW_GPU_PARTITION": "gpu",
    }
    proc = subprocess.run(
        [str(BIN / "snakemake"), "-n", "--profile", "profiles/slurm", "--slurm-no-account", "results/large/ppl.json"],
        cwd=workflow_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = planned_resources(proc.stdout)
    gpus = yaml.safe_load((REPO / "config/config.yaml").read_text())["models"]["large"]["train"]["gpus"]
    assert "slurm_partition=gpu" in plan["train"] and f"gpu={gpus}" in plan["train"]
    assert "slurm_partition=gpu" in plan["perplexity"] and "gpu=1" in plan["perplexity"]
    assert "slurm_partition=gpu" in plan["reference_perplexity"] and "gpu=1" in plan["reference_perplexity"]
    assert "slurm_partition=cpu" in plan["shard"] and "gpu=" not in plan["shard"]


def test_a_two_node_fsdp_preset_trains_as_two_torchrun_agents_like_one_process(cluster, pipeline, tmp_path):
    """`train.nodes: 2` through the profile: the train job's srun starts two torchrun agents that
    rendezvous (c10d) and train FSDP over gloo, to the curve of one process on the same global batch."""
    import numpy as np

    from conftest import train_job

    workflow, _, output = pipeline
    summary = json.loads((workflow / "results/nano2/train_summary.json").read_text())
    assert (summary["ranks"], summary["parallel"], len(summary["peak_memory_mb_per_rank"])) == (2, "fsdp", 2)
    log = (workflow / "results/logs/train/nano2.log").read_text()
    assert "srun --overlap --ntasks=2" in log and "--rdzv_backend=c10d" in log
    # sacct's record of the train job: its launch is a step of two tasks, one torchrun agent each.
    (job,) = [j for j, rule in submitted_jobs(output).items() if rule == "train"]
    steps = cluster.steps([job])
    launch = [step for step in steps.values() if step["NTasks"] == "2"]
    assert len(launch) == 1 and launch[0]["State"] == "COMPLETED", steps
    nano2 = cluster_config()["models"]["nano2"]
    one_process = {**nano2, "train": nano2["train"] | {"nodes": 1, "batch_size": 4}}  # the same global batch
    results = workflow / "results"
    single = train_job(
        tmp_path / "one", results / "shards/default/bpe512", results / "tokenizers/bpe512/tokenizer.json", one_process
    ).run(progress=False, threads=1)
    assert np.allclose(
        [loss for _, loss in summary["history"]["train"]], [loss for _, loss in single["history"]["train"]], atol=1e-5
    )
