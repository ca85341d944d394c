"""Shared fixtures: a copy of the workflow to run Snakemake in, and small configs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Two xdist workers each run torch with 2 threads on the 2 cores: with libgomp's default
# spin-waiting, two such processes trained tiny at 1,850 tokens/s each (15,050 alone); with
# waiting threads asleep, 8,100 each (11,330 alone). Set before torch loads, inherited by
# every Snakemake job the tests start; the suite asserts no speed.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(REPO / "tools"))

from workflow_copy import copy_workflow  # noqa: E402  (found through the path set just above)

# Test files whose tests read one session-wide build: pytest-xdist keeps them on one worker,
# so the build is made once (every other file is a group of its own, as with --dist loadfile).
SHARED_BUILDS = {
    "test_pipeline.py": "default_build",
    "test_downstream.py": "default_build",
    "test_lm_eval_rolling.py": "default_build",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items):
    """One xdist group per test file (its module fixtures are built once), files sharing a
    session build in one group; `make test` runs the suite as `-n 2 --dist loadgroup`."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(SHARED_BUILDS.get(item.path.name, item.path.name)))


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """The workflow as a fresh clone would have it, in a temporary folder."""
    return copy_workflow(tmp_path / "minnow")


@pytest.fixture(scope="session")
def default_build(tmp_path_factory):
    """A fresh copy of the workflow, built by `snakemake` alone: the default config's main job."""
    folder = copy_workflow(tmp_path_factory.mktemp("default") / "minnow")
    snakemake(folder)
    return folder


def small_config() -> dict:
    """The default config's shape on a corpus small enough for a test run."""
    return {
        "experiment": "minnow-test",
        "sources": {
            "guppy": {"kind": "builtin", "generator": "guppy", "count": 1500, "seed": 7},
            "pydocs": {"kind": "builtin", "generator": "python-docs", "max_documents": 60},
        },
        "corpora": {
            "default": {
                "sources": {"guppy": {"weight": 0.7, "lowercase": True}, "pydocs": {"weight": 0.3}},
                "val_fraction": 0.05,
                "filters": {"min_chars": 16, "max_chars": 200000, "min_alnum_ratio": 0.5},
            }
        },
        "tokenizers": {"bpe512": {"corpus": "default", "vocab_size": 512}},
    }


def write_config(folder: Path, config: dict) -> Path:
    path = folder / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(folder: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real Snakemake in `folder`, as a user would from a clone; MLflow logs to the
    folder's own store unless `env` names a MLFLOW_TRACKING_URI."""
    cmd = [str(BIN / "snakemake"), "--cores", "2", *args]
    full_env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | (env or {})
    # a guard against a hung job, not a speed limit: the main job's build took 830 s beside
    # the other worker's tests on 2 cores
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, env=full_env, timeout=1800)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def job_requests(folder: Path) -> dict[tuple[str, str], int]:
    """The mem_mb each job asked for, by (rule, wildcards), as Snakemake's own logs of `folder` say."""
    requests, rule, wildcards = {}, None, ""
    for log in sorted((folder / ".snakemake" / "log").glob("*.snakemake.log")):
        for line in log.read_text().splitlines():
            if found := re.fullmatch(r"(?:local)?rule (\w+):", line):
                rule, wildcards = found[1], ""
            elif line.strip().startswith("wildcards:"):
                wildcards = line.split(":", 1)[1].strip()
            elif line.strip().startswith("resources:") and (asked := re.search(r"\bmem_mb=(\d+)", line)):
                requests[(rule, wildcards)] = int(asked[1])
    return requests


def peak_rss_mb(folder: Path, benchmark: str) -> float:
    """The peak resident memory Snakemake's benchmark of a job measured (its whole process tree)."""
    import csv

    with open(folder / "results" / "benchmarks" / benchmark) as f:
        (row,) = csv.DictReader(f, delimiter="\t")
    return float(row["max_rss"])


def planned_rules(folder: Path, *args: str) -> dict[str, int]:
    """Job counts per rule in Snakemake's own dry-run summary ('Job stats')."""
    out = snakemake(folder, *args, "-n", "--quiet", "rules").stdout  # targets first: --quiet takes a list
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="session")
def chat_shards(tmp_path_factory) -> tuple[Path, Path]:
    """Shards of a little guppy chat mixed with plain text, and their tokenizer: (shards, tokenizer.json)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow.data.builtin import guppy
    from minnow.tokens import shards, tokenizer

    folder = tmp_path_factory.mktemp("chat-shards")
    rows = [
        {
            "text": f"{r['input']}\n{r['output']}",
            "messages": [{"role": "user", "content": r["input"]}, {"role": "assistant", "content": r["output"]}],
        }
        for r in guppy.generate(2500, seed=1)
    ]
    rows += [{"text": f"the tank is {i} degrees and the castle is grey.", "messages": None} for i in range(300)]
    for split, part in (("train", rows[:2400] + rows[2500:2750]), ("val", rows[2400:2500] + rows[2750:])):
        pq.write_table(pa.Table.from_pylist(part), folder / f"{split}.parquet")
    tokenizer.save(tokenizer.train([folder / "train.parquet"], vocab_size=512), folder / "tok")
    splits = {s: [folder / f"{s}.parquet"] for s in ("train", "val")}
    shards.shard(folder / "tok" / "tokenizer.json", splits, folder / "shards", 100_000)
    return folder / "shards", folder / "tok" / "tokenizer.json"


CHAT_MODEL_SPEC = {
    "d_model": 32,
    "n_layers": 2,
    "n_heads": 4,
    "n_kv_heads": 2,
    "ffn_dim": 64,
    "context": 64,
    "train": {
        "steps": 150,
        "batch_size": 16,
        "lr": 1e-2,
        "min_lr": 1e-3,
        "warmup_steps": 10,
        "eval_every": 150,
        "eval_batches": 1,
        "checkpoint_every": 150,
        "device": "cpu",
    },
}


def train_job(
    folder: Path,
    shards: Path,
    tok: Path,
    spec: dict,
    vocab_size: int = 512,
    name: str = "test",
    data: dict | None = None,
):
    """A TrainJob writing its model folder into `folder`, the preset completed by the schema's defaults."""
    from minnow.train.job import TrainJob
    from minnow.workflow.config import with_defaults

    return TrainJob(
        name=name,
        spec=with_defaults("model", {"corpus": "c", "tokenizer": "t", **spec}),
        vocab_size=vocab_size,
        shards=shards,
        tokenizer_json=tok,
        checkpoints=folder / "checkpoints",
        weights=folder / "model.safetensors",
        config=folder / "config.json",
        curve=folder / "loss_curve.png",
        summary=folder / "summary.json",
        data=data or {},
    )


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory, chat_shards) -> Path:
    """A small trained chat model folder (lowercase guppy data), trained once per session."""
    folder = tmp_path_factory.mktemp("tiny-chat-model")
    job = train_job(
        folder,
        *chat_shards,
        CHAT_MODEL_SPEC,
        name="tiny-chat",
        data={"lowercase": True, "corpus": "guppy-chat", "tokenizer": "bpe512"},
    )
    job.run(threads=1, progress=False)
    return folder


def special_ids(tok) -> dict[str, int]:
    """Ids of minnow's special tokens in a tokenizer of its own kinds, by name (eos, user, end, ...)."""
    from minnow.tokens.tokenizer import SPECIAL_TOKENS

    return {name: tok.token_to_id(token) for name, token in SPECIAL_TOKENS.items()}
