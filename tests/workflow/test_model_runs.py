"""One MLflow row per model, as the UI reads it (MlflowClient against the real store):
two models and the same model at two learning rates run through Snakemake, then reruns."""

import multiprocessing as mp
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from snakemake.iocontainers import Namedlist

from minnow.workflow import tracking

from conftest import copy_workflow, snakemake, write_config

REPO = Path(__file__).resolve().parents[2]
# The step runs expected under each model row of config() below (no downstream tasks, so no
# downstream steps): an expectation written out, not run_groups.MODEL_STEPS restated.
MODEL_STEPS = {"train", "perplexity", "samples", "export", "report_model"}


def model(lr: float) -> dict:
    return {
        "corpus": "books",
        "tokenizer": "bpe",
        "params": 3.0e4,
        "d_model": 32,
        "n_layers": 1,
        "n_heads": 2,
        "n_kv_heads": 1,
        "ffn_dim": 64,
        "context": 32,
        "train": {
            "steps": 20,
            "batch_size": 8,
            "lr": lr,
            "min_lr": lr / 10,
            "warmup_steps": 4,
            "eval_every": 10,
            "eval_batches": 2,
            "checkpoint_every": 10,
            "device": "cpu",
        },
    }


def config(fish_lr: float = 3e-3) -> dict:
    return {
        "experiment": "compare",
        "sources": {"book": {"kind": "local", "paths": ["data/book.txt"]}},
        "corpora": {"books": {"sources": {"book": {"weight": 1, "text_unit": "paragraph"}}, "val_fraction": 0.1}},
        "tokenizers": {"bpe": {"corpus": "books", "vocab_size": 400}},
        "models": {"fish": model(fish_lr), "carp": {**model(3e-3), "d_model": 48, "ffn_dim": 96}},
        "targets": ["fish", "carp"],
        "evaluation": {"max_bytes": 3000},
        "references": {},
        "samples": {"prompts": ["the fish"], "chat": ["hi"], "max_tokens": 8},
        "export": {"gguf_types": ["f16"]},
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two models built by Snakemake (their evaluation steps running side by side), then
    the fish at a second learning rate: (workflow folder, client, experiment id)."""
    from minnow.data.builtin import guppy

    folder = copy_workflow(tmp_path_factory.mktemp("compare") / "minnow")
    talk = guppy.generate(1200, seed=3)
    (folder / "data").mkdir()
    (folder / "data" / "book.txt").write_text("\n\n".join(f"{r['input']}\n{r['output']}" for r in talk) + "\n")
    write_config(folder, config())
    snakemake(folder, "--cores", "3")
    write_config(folder, config(fish_lr=1e-2))
    snakemake(folder, "--cores", "3")
    client = MlflowClient(f"sqlite:///{folder / 'results' / 'mlflow.db'}")
    return folder, client, client.get_experiment_by_name("compare").experiment_id


def runs(client, experiment_id, query: str = "") -> list:
    return client.search_runs([experiment_id], query, max_results=1000)


def model_rows(client, experiment_id) -> list:
    return runs(client, experiment_id, "tags.`minnow.kind` = 'model' and tags.`minnow.current` = 'true'")


def children(client, experiment_id, parent) -> list:
    return runs(client, experiment_id, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")


def test_a_model_row_is_found_by_its_model_tag_and_lasts_as_long_as_its_steps(store):
    _, client, experiment_id = store
    for row in model_rows(client, experiment_id):
        assert row.data.tags["model"] == row.data.tags["minnow.group"]
        steps = children(client, experiment_id, row)
        assert row.info.start_time <= min(c.info.start_time for c in steps)
        assert row.info.end_time >= max(c.info.end_time for c in steps) > row.info.start_time + 1000
    carp = runs(client, experiment_id, "tags.model = 'carp' and tags.`minnow.kind` = 'model'")
    assert len(carp) == 1 and carp[0].data.tags["minnow.current"] == "true"


def test_a_model_whose_step_failed_is_a_failed_row(store, tmp_path):
    """Two models whose first step fails (train.nodes outside SLURM; an init GGUF that is not
    there) through Snakemake: their rows say FAILED, as their steps do, not a green FINISHED."""
    folder, client, _ = store
    missing = {"gguf_path": str(tmp_path / "missing.gguf")}
    multi = model(3e-3)
    multi["train"]["nodes"] = 2
    fromgguf = {"init": dict(missing), "corpus": "books", "tokenizer": "fromgguf", "train": model(3e-3)["train"]}
    overlay = tmp_path / "failing.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "experiment": "failing",
                "tokenizers": {"fromgguf": {"kind": "pretrained", "from": missing}},
                "models": {"multi": multi, "fromgguf": fromgguf},
            }
        )
    )
    targets = ["results/multi/ppl.json", "results/fromgguf/ppl.json"]
    failed = snakemake(folder, *targets, "--configfile", str(overlay), "--keep-going", check=False)
    assert failed.returncode != 0
    experiment_id = client.get_experiment_by_name("failing").experiment_id
    rows = {r.data.tags["minnow.group"]: r for r in model_rows(client, experiment_id)}
    assert {name: row.info.status for name, row in rows.items()} == {"multi": "FAILED", "fromgguf": "FAILED"}
    for row in rows.values():
        assert {c.info.status for c in children(client, experiment_id, row)} == {"FAILED"}
    _, client, experiment_id = store
    assert {row.info.status for row in model_rows(client, experiment_id)} == {"FINISHED"}


def test_the_experiment_opens_as_a_model_training_one(store):
    _, client, experiment_id = store
    assert client.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"


def test_each_model_and_config_is_one_row_with_its_steps_as_children(store):
    _, client, experiment_id = store
    rows = model_rows(client, experiment_id)
    assert sorted(r.data.tags["minnow.group"] for r in rows) == ["carp", "fish", "fish"]  # fish at two rates
    for row in rows:
        steps = [
            c.data.tags["step"] for c in children(client, experiment_id, row) if c.data.tags["minnow.current"] == "true"
        ]
        assert sorted(steps) == sorted(MODEL_STEPS), row.data.tags["mlflow.runName"]
        assert row.data.params["d_model"] == ("48" if row.data.tags["minnow.group"] == "carp" else "32")
    fish = sorted((r for r in rows if r.data.tags["minnow.group"] == "fish"), key=lambda r: r.info.start_time)
    assert [r.data.params["train.lr"] for r in fish] == ["0.003", "0.01"]
    assert fish[0].data.tags["minnow.group_key"] != fish[1].data.tags["minnow.group_key"]
    corpus = runs(client, experiment_id, "tags.`minnow.kind` = 'corpus'")
    assert [r.data.tags["mlflow.runName"][:13] for r in corpus] == ["corpus books "]
    data_steps = {c.data.tags["step"] for c in children(client, experiment_id, corpus[0])}
    assert data_steps == {
        "download",
        "prepare_part",
        "dedup",
        "mix_part",
        "report_corpus",
        "train_tokenizer",
        "shard_part",
        "shard",
        "eval_set",
    }
    orphans = runs(client, experiment_id, "tags.`minnow.kind` = 'step'")
    assert all("mlflow.parentRunId" in r.data.tags for r in orphans)  # every step run sits under a row


def test_model_rows_carry_the_same_summary_metrics_and_curves(store):
    _, client, experiment_id = store
    rows = model_rows(client, experiment_id)
    expected = {
        "val_loss",
        "train_loss",
        "best_val_loss",
        "parameters",
        "tokens_seen",
        "steps",
        "train_seconds",
        "val-books.bits_per_byte",
        "export.int8.bytes",
        "export.gguf-f16.bytes",
    }
    for row in rows:
        assert expected <= set(row.data.metrics), row.data.tags["mlflow.runName"]
        assert row.data.metrics["steps"] == 20 and 0 < row.data.metrics["val-books.bits_per_byte"] < 10
        val = client.get_metric_history(row.info.run_id, "val_loss")
        assert [m.step for m in sorted(val, key=lambda m: m.step)] == [10, 20]  # one point per eval, one axis
        assert len(client.get_metric_history(row.info.run_id, "train_loss")) == 20
    carp = next(r for r in rows if r.data.tags["minnow.group"] == "carp")
    fish = next(r for r in rows if r.data.tags["minnow.group"] == "fish")
    assert carp.data.metrics["parameters"] > fish.data.metrics["parameters"]


def test_a_rerun_step_supersedes_its_older_run_and_a_retrain_its_model_row(store):
    folder, client, experiment_id = store
    before = {r.info.run_id for r in model_rows(client, experiment_id)}
    snakemake(folder, "results/fish/ppl.json", "--forcerun", "perplexity")
    rows = model_rows(client, experiment_id)
    assert {r.info.run_id for r in rows} == before
    fish = max((r for r in rows if r.data.tags["minnow.group"] == "fish"), key=lambda r: r.info.start_time)
    scored = [c for c in children(client, experiment_id, fish) if c.data.tags["step"] == "perplexity"]
    assert sorted(c.data.tags["minnow.current"] for c in scored) == ["false", "true"]
    old = next(c for c in scored if c.data.tags["minnow.current"] == "false")
    assert old.data.tags["mlflow.runName"] == "perplexity-fish (superseded)"

    snakemake(folder, "results/fish/ppl.json", "--forcerun", "train")
    rows = model_rows(client, experiment_id)
    assert len(rows) == 3 and fish.info.run_id not in {r.info.run_id for r in rows}
    replaced = client.get_run(fish.info.run_id)
    assert replaced.data.tags["minnow.current"] == "false" and replaced.data.tags["mlflow.runName"].endswith(
        "(superseded)"
    )
    new = next(r for r in rows if r.data.tags["minnow.group_key"] == fish.data.tags["minnow.group_key"])
    assert {c.data.tags["step"] for c in children(client, experiment_id, new)} == {"train", "perplexity"}
    assert len(client.get_metric_history(new.info.run_id, "train_loss")) == 20  # the whole curve, not a second copy


class StepObject:
    """The attributes of Snakemake's `snakemake` object that tracking reads, for one model's step."""

    def __init__(self, log: Path, step: str):
        self.config = {**config(), "experiment": "parallel-steps"}
        self.params = Namedlist(fromdict={"code": "abc"})
        self.wildcards = Namedlist(fromdict={"model": "fish"})
        self.log = Namedlist([str(log)])
        self.scriptdir = str(REPO / "workflow_scripts")
        self.step = step


def one_step(step: str, folder: str) -> None:
    with tracking.step_run(StepObject(Path(folder) / f"{step}.log", step), step=step) as run:
        run.log_model_metrics({f"{step}_done": 1})


def test_concurrent_steps_of_one_model_attach_to_one_model_run(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    steps = ["perplexity", "samples", "export", "report_model", "downstream", "report_downstream"]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=one_step, args=(step, str(tmp_path))) for step in steps]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(steps)
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name("parallel-steps").experiment_id
    rows = model_rows(client, experiment_id)
    assert len(rows) == 1 and set(rows[0].data.metrics) == {f"{s}_done" for s in steps}
    assert sorted(c.data.tags["step"] for c in children(client, experiment_id, rows[0])) == sorted(steps)


def step_until_terminated(folder: str) -> None:
    with tracking.step_run(StepObject(Path(folder) / "train.log", "train"), step="train"):
        time.sleep(120)


def test_a_step_terminated_by_snakemake_or_the_cluster_ends_killed_and_its_row_failed(tmp_path, monkeypatch):
    """SIGTERM (Snakemake interrupted, a cluster's time limit) ends the step's run KILLED, so its
    model's row says FAILED instead of RUNNING for ever."""
    import os
    import signal

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client, experiment_id = MlflowClient(uri), tracking.ensure_store("parallel-steps", uri)  # as onstart does
    step = mp.get_context("spawn").Process(target=step_until_terminated, args=(str(tmp_path),))
    step.start()

    def rows() -> list:
        return model_rows(client, experiment_id)

    deadline = time.monotonic() + 120
    while not any(row.info.status == "RUNNING" for row in rows()) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the step is inside its work now
    os.kill(step.pid, signal.SIGTERM)
    step.join(60)
    assert step.exitcode == 128 + signal.SIGTERM
    (row,) = rows()
    assert [c.info.status for c in children(client, row.info.experiment_id, row)] == ["KILLED"]
    assert row.info.status == "FAILED"


def test_the_ui_lists_one_row_per_model_in_a_real_browser(store, tmp_path):
    from mlflow_ui import browser, chromium, mlflow_server

    path, why = browser()
    if path is None:
        pytest.skip(why)
    folder, client, experiment_id = store
    with mlflow_server(f"sqlite:///{folder / 'results' / 'mlflow.db'}", tmp_path) as url:
        page = chromium(path, f"{url}/#/experiments/{experiment_id}?workflowType=machine_learning", "--dump-dom")
    names = [r.data.tags["mlflow.runName"] for r in model_rows(client, experiment_id)]
    assert len(names) == 3 and all(name in page for name in names), names
    corpus = runs(client, experiment_id, "tags.`minnow.kind` = 'corpus'")[0].data.tags["mlflow.runName"]
    assert corpus in page
    assert "train-fish" not in page  # the steps stay folded under their model's row
