"""One MLflow row per model (and per corpus): parent runs holding their steps' runs, marked when superseded.

Snakemake runs a model's train, perplexity, samples, export and downstream steps
as separate jobs, maybe on separate nodes, so MLflow would list one flat run per
job and comparing two models would mean hunting for runs by name. Here each
model gets one parent run, found or created by (model name, model key): the key
digests what defines the model in the config (its preset, tokenizer and corpus
with its sources), so the same model and config always find the same run and a
changed learning rate makes a new row to compare with the old one. The parent
carries the preset as params and the model's summary (final val loss,
bits-per-byte beside each reference, size, training time, the loss curves) as
metrics under the same names for every model, so the runs table and the charts
line them up.

The data steps of a corpus (download, prepare, dedup, mix, tokenizer, shards)
are grouped the same way under one corpus run, and the eval sets and reference
scores under one evaluation run, so the table holds a handful of rows.
`run_group` says which row a step's run belongs to (from the step and its
wildcards) and `group_identity` what identifies that row; a row carries the
`model` (or `corpus`) tag its steps carry, and its duration spans its steps.

Finding or creating happens under a file lock next to the store (results/ is
shared by a cluster's nodes), so concurrent steps of one model attach to one run.
A run is superseded, never deleted: a step that reruns marks its older run of the
same output `minnow.current=false` and renames it "... (superseded)"; a model
retrained under the same config starts a new parent and supersedes the old one.
A row's status is its current steps' (`settle`): a model whose training failed is
FAILED in the runs table until a rerun of that step succeeds.
"""

import time
from pathlib import Path

from minnow.digests import json_digest
from minnow.workflow.config import VAL_PREFIX, model_preset, perplexity_protocol
from minnow.workflow.file_lock import locked

KIND, CURRENT, GROUP, KEY, RUN_KEY = (
    "minnow.kind",
    "minnow.current",
    "minnow.group",
    "minnow.group_key",
    "minnow.run_key",
)
PARENT = "mlflow.parentRunId"
NAME = "mlflow.runName"
# a parent's status from its current steps': the first of these that one of them has, else FINISHED
SETTLED = (("RUNNING", "RUNNING"), ("FAILED", "FAILED"), ("KILLED", "FAILED"))


def model_identity(config: dict, model: str) -> dict:
    """What defines a trained model in the config: its preset, tokenizer and corpus with its
    sources. The same identity is the same model (one row in MLflow); any change is another."""
    preset = model_preset(config, model)
    corpus = config["corpora"][preset["corpus"]]
    return {
        "preset": preset,
        "tokenizer": config["tokenizers"][preset["tokenizer"]],
        "corpus": corpus,
        "sources": {name: config["sources"][name] for name in corpus["sources"]},
    }


MODEL_STEPS = (
    "import_init",
    "train",
    "perplexity",
    "samples",
    "export",
    "downstream",
    "report_model",
    "report_downstream",
)
CORPUS_WILDCARD_STEPS = ("prepare_part", "dedup", "mix_part", "corpus_index", "report_corpus", "shard_part", "shard")


def run_group(config: dict, step: str, wildcards: dict) -> tuple[str, str] | None:
    """The (kind, name) of the MLflow parent run a step's run belongs to: its model, the
    corpus whose data it makes, or the evaluation (eval sets and reference scores)."""
    if step in MODEL_STEPS and wildcards.get("model") in config.get("models", {}):
        return "model", wildcards["model"]
    if step in CORPUS_WILDCARD_STEPS:
        return "corpus", wildcards["corpus"]
    if step == "train_tokenizer" and wildcards["tokenizer"] in config.get("tokenizers", {}):
        return _tokenizer_group(config, wildcards["tokenizer"])
    if step in ("download", "fetch"):
        users = [c for c, spec in config.get("corpora", {}).items() if wildcards["source"] in spec["sources"]]
        return ("corpus", users[0]) if users else None
    if step == "eval_set" and wildcards["evalset"].startswith(VAL_PREFIX):
        return "corpus", wildcards["evalset"].removeprefix(VAL_PREFIX)
    if step in ("eval_set", "reference_perplexity", "reference_downstream"):
        return "evaluation", "references"
    return None


def _tokenizer_group(config: dict, name: str) -> tuple[str, str] | None:
    """A trained tokenizer's row is its corpus's; a pretrained one's, the first model reading with it."""
    if "corpus" in config["tokenizers"][name]:
        return "corpus", config["tokenizers"][name]["corpus"]
    users = [m for m, spec in config.get("models", {}).items() if spec["tokenizer"] == name]
    return ("model", users[0]) if users else None


def group_identity(config: dict, kind: str, name: str) -> dict:
    """What defines a run group: a model's identity, a corpus with its sources, or the
    evaluation settings with the references. The same identity finds the same MLflow row."""
    if kind == "model":
        return model_identity(config, name)
    if kind == "corpus":
        corpus = config["corpora"][name]
        return {"corpus": corpus, "sources": {s: config["sources"][s] for s in corpus["sources"]}}
    return {"evaluation": perplexity_protocol(config), "references": config.get("references", {})}


def runs_lock(db: Path | None):
    """Serialise find-or-create between processes: beside a SQLite store, else in results/."""
    return locked((db.parent if db else Path("results")) / ".mlflow-runs.lock")


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _current(client, experiment_id: str, **tags: str) -> list:
    """Current (not superseded) runs with all of `tags`, oldest first."""
    query = " and ".join(f"tags.`{k}` = {_quoted(v)}" for k, v in {**tags, CURRENT: "true"}.items())
    runs = client.search_runs([experiment_id], query, max_results=1000)
    return sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))


def supersede(client, run) -> None:
    client.set_tag(run.info.run_id, CURRENT, "false")
    client.set_tag(run.info.run_id, NAME, f"{run.data.tags.get(NAME, run.info.run_id)} (superseded)")


def group_run(client, experiment_id: str, kind: str, name: str, identity: dict, restart: bool) -> tuple[str, bool]:
    """The current parent run of a model, corpus or evaluation (`kind`) and whether it was
    created now; with `restart` (the train step), a parent that already holds a train run
    is superseded by a new one, so a retrained model's row holds only the new run's steps."""
    key = json_digest(identity)
    found = _current(client, experiment_id, **{KIND: kind, GROUP: name, KEY: key})
    if found and restart and _current(client, experiment_id, **{PARENT: found[-1].info.run_id, "step": "train"}):
        for run in found:
            supersede(client, run)
        found = []
    if found:
        return found[-1].info.run_id, False
    label = name if kind == "model" else f"{kind} {name}"
    tags = {KIND: kind, GROUP: name, KEY: key, CURRENT: "true", NAME: f"{label} ({key[:6]})"}
    if kind in ("model", "corpus"):  # the tag its steps carry, so a filter on it finds the row too
        tags[kind] = name
    return client.create_run(experiment_id, tags=tags).info.run_id, True


def settle(client, experiment_id: str, parent: str) -> None:
    """Give a parent run the status its steps give it, as each step starts and ends: RUNNING
    while one runs, FAILED while the latest run of any step has failed or was killed, else
    FINISHED; so the runs table never shows a green model whose training failed. Its end
    moves to now (an end so far, while RUNNING), so its duration spans its steps. Called
    under `runs_lock`, so concurrent steps never move the end back. A step killed by
    SIGKILL never ends its run: its row stays RUNNING until that step runs again."""
    status = next((row for step, row in SETTLED if _has_step(client, experiment_id, parent, step)), "FINISHED")
    end = client.get_run(parent).info.end_time or 0
    client.set_terminated(parent, status, end_time=max(end, int(time.time() * 1000)))


def _has_step(client, experiment_id: str, parent: str, status: str) -> bool:
    """Whether a current step run of `parent` has `status` (a search for one row)."""
    query = f"tags.`{PARENT}` = {_quoted(parent)} and tags.`{KIND}` = 'step' and tags.`{CURRENT}` = 'true'"
    return bool(client.search_runs([experiment_id], f"{query} and attributes.status = '{status}'", max_results=1))


def step_tags(client, experiment_id: str, run_key: str, parent: str | None) -> dict:
    """Tags of a new step run; the older current run of the same output (under the same
    parent, for a model's steps) is superseded."""
    scope = {PARENT: parent} if parent else {}
    for run in _current(client, experiment_id, **{RUN_KEY: run_key, **scope}):
        supersede(client, run)
    return {KIND: "step", RUN_KEY: run_key, CURRENT: "true", **scope}
