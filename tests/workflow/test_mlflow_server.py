"""Steps log to a real `mlflow server` when MLFLOW_TRACKING_URI points at it, as jobs on a cluster do."""

import pytest
from mlflow.tracking import MlflowClient

from conftest import small_config, snakemake, write_config
from mlflow_ui import mlflow_server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path):
    """A real tracking server with its own SQLite store and proxied artifact folder."""
    folder = tmp_path / "server"
    folder.mkdir()
    store, artifacts = f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts")
    with mlflow_server(store, folder, "--artifacts-destination", artifacts) as url:
        yield url, folder


def test_stages_log_runs_params_and_artifacts_to_the_server(server, workflow_copy):
    url, server_folder = server
    config = small_config()
    write_config(workflow_copy, config)
    snakemake(workflow_copy, "results/tokenizers/bpe512/tokenizer.json", env={"MLFLOW_TRACKING_URI": url})

    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(config["experiment"])
    assert experiment is not None, "the workflow did not create its experiment on the server"
    runs = client.search_runs([experiment.experiment_id], "tags.`minnow.kind` = 'step'")
    steps = sorted(r.data.tags["step"] for r in runs)
    assert steps == [
        "dedup",
        "download",
        "download",
        "mix_part",
        "mix_part",
        "prepare_part",
        "prepare_part",
        "train_tokenizer",
    ]
    assert all(r.info.status == "FINISHED" for r in runs)
    dedup = next(r for r in runs if r.data.tags["step"] == "dedup")
    assert dedup.data.params["corpus.val_fraction"] == str(config["corpora"]["default"]["val_fraction"])
    assert dedup.data.metrics["train_documents"] > 0
    # The artifact went through the server into its artifact folder, not onto the job's disk.
    artifacts = [a.path for a in client.list_artifacts(dedup.info.run_id)]
    assert "stats.json" in artifacts
    assert list((server_folder / "artifacts").rglob("stats.json"))
    assert not (workflow_copy / "results" / "mlflow.db").exists()
