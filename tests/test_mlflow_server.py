"""Steps log to a real `mlflow server` when MLFLOW_TRACKING_URI points at it, as jobs on a cluster do."""

import socket
import subprocess
import time
import urllib.request

import pytest
from conftest import BIN, small_config, snakemake, write_config
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    """Poll /health: the server takes ~15 s to answer on 2 cores."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mlflow server at {url} did not answer within {timeout:.0f} s")


@pytest.fixture
def mlflow_server(tmp_path):
    """A real tracking server with its own SQLite store and proxied artifact folder."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path / "server"
    folder.mkdir()
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
           "--artifacts-destination", str(folder / "artifacts")]
    with open(folder / "server.log", "w") as log:
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    try:
        wait_until_up(url, server)
        yield url, folder
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_stages_log_runs_params_and_artifacts_to_the_server(mlflow_server, workflow_copy):
    url, server_folder = mlflow_server
    config = small_config()
    write_config(workflow_copy, config)
    snakemake(workflow_copy, "results/tokenizers/bpe512/tokenizer.json", env={"MLFLOW_TRACKING_URI": url})

    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(config["experiment"])
    assert experiment is not None, "the workflow did not create its experiment on the server"
    runs = client.search_runs([experiment.experiment_id])
    steps = sorted(r.data.tags["step"] for r in runs)
    assert steps == ["dedup", "download", "download", "mix_part", "mix_part", "prepare_part", "prepare_part",
                     "train_tokenizer"]
    assert all(r.info.status == "FINISHED" for r in runs)
    dedup = next(r for r in runs if r.data.tags["step"] == "dedup")
    assert dedup.data.params["corpus.val_fraction"] == str(config["corpora"]["default"]["val_fraction"])
    assert dedup.data.metrics["train_documents"] > 0
    # The artifact went through the server into its artifact folder, not onto the job's disk.
    artifacts = [a.path for a in client.list_artifacts(dedup.info.run_id)]
    assert "stats.json" in artifacts
    assert list((server_folder / "artifacts").rglob("stats.json"))
    assert not (workflow_copy / "results" / "mlflow.db").exists()
