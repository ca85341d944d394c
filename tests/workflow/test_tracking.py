import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient
from snakemake.iocontainers import Namedlist

from minnow.workflow import tracking

REPO = Path(__file__).resolve().parents[2]


class StepObject:
    """The attributes of Snakemake's `snakemake` object that tracking reads."""

    def __init__(self, log: Path, **wildcards):
        self.config = {"experiment": "parallel", "sources": {"a": 1}}
        self.params = Namedlist(fromdict={"source": {"kind": "builtin", "count": 5}, "code": "abc"})
        self.wildcards = Namedlist(fromdict=wildcards)
        self.log = Namedlist([str(log)])
        self.scriptdir = str(REPO / "workflow_scripts")


def one_job(i: int, folder: str) -> None:
    with tracking.step_run(StepObject(Path(folder) / f"{i}.log", source=f"s{i}"), step="download") as run:
        run.log_metrics({"documents": i, "bytes": 10 * i})


def test_eight_parallel_jobs_on_a_fresh_store_all_log(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'fresh' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=one_job, args=(i, str(tmp_path))) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("parallel").experiment_id])
    assert len(runs) == 8 and {r.info.status for r in runs} == {"FINISHED"}
    run = next(r for r in runs if r.data.tags["source"] == "s3")
    assert run.data.metrics == {"documents": 3.0, "bytes": 30.0}
    assert run.data.params["source.kind"] == "builtin" and run.data.params["code"] == "abc"
    assert run.data.tags["step"] == "download" and len(run.data.tags["config_digest"]) == 12
    assert run.data.tags["git_commit"] != ""


FAILING_STEP = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_tracking import StepObject
from minnow.workflow import tracking
from minnow.errors import InputError
with tracking.step_run(StepObject(Path(sys.argv[1]), source="s"), step="download"):
    raise InputError("data.jsonl:3: malformed JSON")
"""


def test_bad_input_ends_the_run_failed_with_a_clean_exit(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    proc = subprocess.run(
        [sys.executable, "-c", FAILING_STEP, str(tmp_path / "x.log"), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "minnow: ERROR: data.jsonl:3: malformed JSON" in proc.stderr and "Traceback" not in proc.stderr
    rule_log = (tmp_path / "x.log").read_text()
    assert "minnow: ERROR: data.jsonl:3: malformed JSON" in rule_log and "Traceback" in rule_log
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("parallel").experiment_id])
    assert run.info.status == "FAILED"


def test_flatten_makes_dotted_string_params():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": "1", "a.c.d": "[1, 2]", "e": "x"}


def test_the_ui_hint_links_the_experiments_runs_table(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    hint = tracking.ui_hint("hinted")
    experiment = MlflowClient(uri).get_experiment_by_name("hinted")
    assert hint == (
        f"MLflow: mlflow ui --backend-store-uri {uri} --port 5000, then open "
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}?workflowType=machine_learning"
    )
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
