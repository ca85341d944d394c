import multiprocessing as mp
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from snakemake.iocontainers import Namedlist

from minnow import tracking
from minnow.errors import InputError

REPO = Path(__file__).resolve().parents[1]


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


def test_bad_input_ends_the_run_failed_with_a_clean_exit(tmp_path, monkeypatch, capfd):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(SystemExit) as exit_info:
        with tracking.step_run(StepObject(tmp_path / "x.log", source="s"), step="download"):
            raise InputError("data.jsonl:3: malformed JSON")
    assert exit_info.value.code == 1
    assert "minnow: ERROR: data.jsonl:3: malformed JSON" in capfd.readouterr().err
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("parallel").experiment_id])
    assert run.info.status == "FAILED"


def test_flatten_makes_dotted_string_params():
    assert tracking.flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": "1", "a.c.d": "[1, 2]", "e": "x"}
