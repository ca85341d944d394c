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

Finding or creating happens under a file lock next to the store (results/ is
shared by a cluster's nodes), so concurrent steps of one model attach to one run.
A run is superseded, never deleted: a step that reruns marks its older run of the
same output `minnow.current=false` and renames it "... (superseded)"; a model
retrained under the same config starts a new parent and supersedes the old one.
"""

import fcntl
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path

KIND, CURRENT, GROUP, KEY, RUN_KEY = (
    "minnow.kind",
    "minnow.current",
    "minnow.group",
    "minnow.group_key",
    "minnow.run_key",
)
PARENT = "mlflow.parentRunId"
NAME = "mlflow.runName"


def digest(obj) -> str:
    """Short hash of a JSON-able value: a config's (the `config_digest` tag) or a group's identity."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


@contextmanager
def locked(path: Path):
    """An exclusive file lock on `path` between processes (on one machine, or a shared filesystem)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    key = digest(identity)
    found = _current(client, experiment_id, **{KIND: kind, GROUP: name, KEY: key})
    if found and restart and _current(client, experiment_id, **{PARENT: found[-1].info.run_id, "step": "train"}):
        for run in found:
            supersede(client, run)
        found = []
    if found:
        return found[-1].info.run_id, False
    label = name if kind == "model" else f"{kind} {name}"
    tags = {KIND: kind, GROUP: name, KEY: key, CURRENT: "true", NAME: f"{label} ({key[:6]})"}
    run_id = client.create_run(experiment_id, tags=tags).info.run_id
    client.set_terminated(run_id, "FINISHED")
    return run_id, True


def step_tags(client, experiment_id: str, run_key: str, parent: str | None) -> dict:
    """Tags of a new step run; the older current run of the same output (under the same
    parent, for a model's steps) is superseded."""
    scope = {PARENT: parent} if parent else {}
    for run in _current(client, experiment_id, **{RUN_KEY: run_key, **scope}):
        supersede(client, run)
    return {KIND: "step", RUN_KEY: run_key, CURRENT: "true", **scope}
