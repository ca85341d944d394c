"""MLflow rows: which row a step's run belongs to, what identifies a row, and what a row shows."""

import copy
import time

from mlflow.tracking import MlflowClient
from test_config import shipped

from minnow.workflow import run_groups, tracking


def test_each_step_run_belongs_to_its_model_corpus_or_the_evaluation():
    config = shipped()
    group = run_groups.run_group
    assert group(config, "train", {"model": "tiny"}) == ("model", "tiny")
    assert group(config, "export", {"model": "nosuch"}) is None
    assert group(config, "dedup", {"corpus": "guppy"}) == ("corpus", "guppy")
    assert group(config, "train_tokenizer", {"tokenizer": "guppy4k"}) == ("corpus", "guppy")
    assert group(config, "download", {"source": "pydocs", "part": "00000"}) == ("corpus", "default")
    assert group(config, "eval_set", {"evalset": "val-guppy"}) == ("corpus", "guppy")
    assert group(config, "reference_perplexity", {"reference": "x", "evalset": "val-default"}) == (
        "evaluation",
        "references",
    )
    tiny = copy.deepcopy(run_groups.group_identity(config, "model", "tiny"))
    config["models"]["tiny"]["params"] = 1  # documentation only: the same model
    assert run_groups.group_identity(config, "model", "tiny") == tiny
    config["models"]["tiny"]["train"]["lr"] = 0.5
    assert run_groups.group_identity(config, "model", "tiny") != tiny


def test_a_model_row_carries_its_model_tag_and_spans_its_steps(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = tracking.ensure_store("rows", uri)
    parent, created = run_groups.group_run(client, experiment, "model", "tiny", {"preset": 1}, restart=False)
    assert created
    step = start_step(client, experiment, parent, "train-tiny")
    time.sleep(0.05)
    client.set_terminated(step, "FINISHED")
    run_groups.settle(client, experiment, parent)
    row, child = client.get_run(parent), client.get_run(step)
    assert row.data.tags["model"] == "tiny"
    assert [r.info.run_id for r in client.search_runs([experiment], "tags.model = 'tiny'")] == [parent]
    assert row.info.start_time <= child.info.start_time and row.info.end_time >= child.info.end_time
    earlier = row.info.end_time
    run_groups.settle(client, experiment, parent)  # a later step's end moves it on, never back
    assert client.get_run(parent).info.end_time >= earlier


def start_step(client, experiment: str, parent: str, name: str) -> str:
    """A step's run as tracking.step_run starts it: tagged, the older run of its output superseded."""
    tags = {"mlflow.runName": name, **run_groups.step_tags(client, experiment, name, parent)}
    step = client.create_run(experiment, tags=tags).info.run_id
    run_groups.settle(client, experiment, parent)
    return step


def test_a_model_rows_status_is_what_its_latest_steps_say(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = tracking.ensure_store("rows", uri)
    parent, _ = run_groups.group_run(client, experiment, "model", "tiny", {"preset": 1}, restart=False)

    def status() -> str:
        return client.get_run(parent).info.status

    def finish(step: str, how: str) -> None:
        client.set_terminated(step, how)
        run_groups.settle(client, experiment, parent)

    train = start_step(client, experiment, parent, "train-tiny")
    assert status() == "RUNNING"
    samples = start_step(client, experiment, parent, "samples-tiny")
    finish(train, "FINISHED")
    assert status() == "RUNNING"  # samples still runs
    finish(samples, "FAILED")
    assert status() == "FAILED"
    again = start_step(client, experiment, parent, "samples-tiny")  # the rerun supersedes the failure
    assert status() == "RUNNING"
    finish(again, "FINISHED")
    assert status() == "FINISHED"
    finish(start_step(client, experiment, parent, "export-tiny"), "KILLED")
    assert status() == "FAILED"
