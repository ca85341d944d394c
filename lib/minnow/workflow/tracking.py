"""MLflow tracking for pipeline steps: one run per Snakemake job.

The only module that imports mlflow (lazily, inside its functions; `run_groups`
is handed the client made here). Every step opens one run
in the experiment named by the config's `experiment` key, tagged with the step,
its wildcards (corpus / tokenizer / model name), a digest of the whole config and
the git commit, and logs its params, metrics and a summary artifact. Each run is
the child of a parent (`run_groups`): a model's steps of its model run, which
they give the model's summary metrics, a corpus's data steps of its corpus run,
so the MLflow UI shows one row per model and per corpus. The experiment is marked
a model-training one.

The store is MLFLOW_TRACKING_URI when set, else the SQLite file
results/mlflow.db under the working directory. A fresh SQLite store is not safe to create from several
processes at once (mlflow races on its schema migration), so `ensure_store`
creates it under a file lock; the Snakefile calls it once before any job starts
and every step calls it again, which is then a cheap no-op.
"""

import json
import logging
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from minnow.digests import json_digest
from minnow.errors import InputError
from minnow.workflow import run_groups, steplog
from minnow.workflow.config import model_preset
from minnow.workflow.file_lock import locked

log = logging.getLogger(__name__)

MAX_PARAM_CHARS = 6000
# MLflow 3's experiment kinds: this one opens on the runs table, not the GenAI overview
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def tracking_uri() -> str:
    """The store every step writes to: MLFLOW_TRACKING_URI, else results/mlflow.db."""
    default = f"sqlite:///{Path('results/mlflow.db').resolve()}"
    return os.environ.get("MLFLOW_TRACKING_URI", default)


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


@contextmanager
def _store_lock(uri: str):
    """Serialise store creation between processes on one machine (no-op for servers)."""
    db = _sqlite_path(uri)
    if db is None:
        yield
        return
    with locked(Path(f"{db}.lock")):
        yield


def ensure_store(experiment: str, uri: str | None = None) -> str:
    """Create the store and experiment if missing; return the experiment id."""
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    _quiet_mlflow()
    with _store_lock(uri):
        client = MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            if found.tags.get("mlflow.experimentKind") is None:  # a store from before the kind was set
                client.set_experiment_tag(found.experiment_id, *next(iter(EXPERIMENT_KIND.items())))
            return found.experiment_id
        db = _sqlite_path(uri)
        artifacts = (db.parent / "mlartifacts").as_uri() if db else None
        try:
            return client.create_experiment(experiment, artifact_location=artifacts, tags=EXPERIMENT_KIND)
        except Exception:
            # Another process on another node created it between our two calls.
            found = client.get_experiment_by_name(experiment)
            if found is None:
                raise
            return found.experiment_id


def ui_hint(experiment: str) -> str:
    """How to open this experiment's runs table in the MLflow UI. The link names the
    UI's "Model training" view: MLflow 3.17's UI opens every experiment on the GenAI
    overview unless told so (its own toggle, kept per browser; it ignores the
    experiment's kind tag)."""
    uri = tracking_uri()
    experiment_id = ensure_store(experiment, uri)
    view = f"#/experiments/{experiment_id}?workflowType=machine_learning"
    if _sqlite_path(uri):
        return f"MLflow: mlflow ui --backend-store-uri {uri} --port 5000, then open http://127.0.0.1:5000/{view}"
    return f"MLflow: {uri.rstrip('/')}/{view}"


def _quiet_mlflow() -> None:
    for name in ("alembic", "mlflow", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)


def flatten(params: dict, prefix: str = "") -> dict[str, str]:
    """Nested dicts to dotted keys with string values, as MLflow params must be."""
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            flat[name] = text[:MAX_PARAM_CHARS]
    return flat


def numeric_leaves(obj: dict, prefix: str = "") -> dict[str, float]:
    """Every number in a nested dict under a dotted key, for metrics such as
    `val-default.model.bits_per_byte` that the MLflow UI can put side by side."""
    found = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.update(numeric_leaves(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[name] = value
    return found


def config_digest(config: dict) -> str:
    """Short hash identifying a whole config, to group runs made from the same one."""
    return json_digest(config)


def git_commit(folder: str | Path) -> str:
    """The commit the workflow ran from, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


class Run:
    """The handle a step logs through; thin over MlflowClient so steps stay short.
    `parent` is the step's parent run: for a model's steps, the model run."""

    def __init__(self, client, run_id: str, parent: str | None = None):
        self.client = client
        self.run_id = run_id
        self.parent = parent

    def log_model_metrics(self, metrics: dict[str, float]) -> None:
        """Summary metrics of the model, on its model run: the row the runs table compares."""
        if self.parent:
            Run(self.client, self.parent).log_metrics(metrics)

    def log_model_curves(self, history: dict[str, list]) -> None:
        """The loss curves on the model run (train_loss, val_loss by step), whole from the
        history, so a run that resumed or re-finished still carries its full curve."""
        from mlflow.entities import Metric

        if not self.parent:
            return
        now = int(time.time() * 1000)
        points = [
            Metric(f"{split}_loss", float(loss), now, int(step))
            for split, curve in history.items()
            for step, loss in curve
        ]
        for i in range(0, len(points), 1000):
            self.client.log_batch(self.parent, metrics=points[i : i + 1000])

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if v is not None]
        self.client.log_batch(self.run_id, metrics=batch)

    def log_step_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """The training loop's callback: metrics at a step, for curves in the UI."""
        self.log_metrics(metrics, step)

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        batch = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(batch), 100):
            self.client.log_batch(self.run_id, params=batch[i : i + 100])

    def log_artifact(self, path: str | Path) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def log_dict(self, obj: dict, name: str) -> None:
        self.client.log_dict(self.run_id, obj, name)


def attach(run_id: str) -> Run:
    """A handle on an existing run, for worker processes logging into their step's run."""
    from mlflow.tracking import MlflowClient

    return Run(MlflowClient(tracking_uri()), run_id)


def _parent(client, experiment_id: str, config: dict, step: str, wildcards: dict) -> str | None:
    """The parent run a step's run belongs to (its model, corpus or the evaluation)."""
    group = run_groups.run_group(config, step, wildcards)
    if group is None:
        return None
    kind, name = group
    identity = run_groups.group_identity(config, kind, name)
    run_id, created = run_groups.group_run(client, experiment_id, kind, name, identity, restart=step == "train")
    if created:
        Run(client, run_id).log_params(model_preset(config, name) if kind == "model" else identity)
    return run_id


@contextmanager
def step_run(smk, step: str):
    """Run one Snakemake job as one MLflow run, its output captured in the rule log;
    bad input exits 1 with its message, any other failure with its traceback.

    `smk` is the `snakemake` object of a step script, passed in so that no lib
    module imports snakemake. The experiment name and config digest come from the
    workflow config on purpose: they label runs and must not be rerun triggers.
    """
    from mlflow.tracking import MlflowClient

    with steplog.capture(smk.log[0] if smk.log else None) as rule_log:
        experiment = smk.config.get("experiment", "minnow")
        uri = tracking_uri()
        experiment_id = ensure_store(experiment, uri)
        client = MlflowClient(uri)
        tags = {
            "step": step,
            "config_digest": config_digest(smk.config),
            "git_commit": git_commit(smk.scriptdir),
            "mlflow.runName": "-".join([step, *map(str, smk.wildcards)]),
            **{k: str(v) for k, v in smk.wildcards.items()},
        }
        with run_groups.runs_lock(_sqlite_path(uri)):
            parent = _parent(client, experiment_id, smk.config, step, dict(smk.wildcards.items()))
            tags.update(run_groups.step_tags(client, experiment_id, tags["mlflow.runName"], parent))
            run = Run(client, client.create_run(experiment_id, tags=tags).info.run_id, parent)
            if parent:
                run_groups.settle(client, experiment_id, parent)
        run.log_params(dict(smk.params.items()))
        signal.signal(signal.SIGTERM, _terminated)
        try:
            yield run
        except Terminated as e:  # Snakemake interrupted, or the cluster's time limit: the run says KILLED
            _finish(run, "KILLED", uri, experiment_id)
            rule_log.failure(e)
            raise SystemExit(128 + signal.SIGTERM) from None
        except InputError as e:
            _finish(run, "FAILED", uri, experiment_id)
            rule_log.failure(e)
            log.error(str(e))
            raise SystemExit(1) from None
        except BaseException as e:
            _finish(run, "FAILED", uri, experiment_id)
            rule_log.failure(e)
            raise
        _finish(run, "FINISHED", uri, experiment_id)


class Terminated(BaseException):
    """SIGTERM, raised where the step is, so that its run ends KILLED instead of RUNNING forever."""


def _terminated(signum, frame):
    raise Terminated(f"terminated by {signal.Signals(signum).name}")


def _finish(run: Run, status: str, uri: str, experiment_id: str) -> None:
    """End a step's run; its parent then says what its steps say, its duration covering them."""
    run.client.set_terminated(run.run_id, status)
    if run.parent:
        with run_groups.runs_lock(_sqlite_path(uri)):
            run_groups.settle(run.client, experiment_id, run.parent)
