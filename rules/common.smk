# Path and config helpers shared by the rules, so the rules hold no logic.
from pathlib import Path

from minnow import code_digest
from minnow import config as minnow_config
from minnow.errors import InputError

try:
    minnow_config.check(config)
except InputError as e:
    raise WorkflowError(str(e))


wildcard_constraints:
    source=r"[^/]+",
    corpus=r"[^/]+",
    tokenizer=r"[^/]+",
    model="|".join(config["models"]) or "no-models-defined",


def code(step):
    """Digest of the lib modules a step's script imports: params rerun the step when they change."""
    return code_digest.digest(Path(workflow.basedir) / "workflow_scripts" / f"{step}.py")


def create_tracking_store():
    """Create the MLflow store and experiment before any job runs (a fresh SQLite store races)."""
    from minnow import tracking

    tracking.ensure_store(config["experiment"])


def source_spec(wildcards):
    return config["sources"][wildcards.source]


def corpus_spec(wildcards):
    return config["corpora"][wildcards.corpus]


def corpus_raw_dirs(wildcards):
    return {s: f"results/raw/{s}" for s in config["corpora"][wildcards.corpus]["sources"]}


def tokenizer_spec(wildcards):
    return config["tokenizers"][wildcards.tokenizer]


def tokenizer_train_split(wildcards):
    corpus = config["tokenizers"][wildcards.tokenizer]["corpus"]
    return f"results/corpus/{corpus}/train.parquet"


def model_spec(wildcards):
    return config["models"][wildcards.model]


def model_shards(wildcards):
    m = config["models"][wildcards.model]
    return f"results/shards/{m['corpus']}/{m['tokenizer']}"


def model_tokenizer(wildcards):
    return f"results/tokenizers/{config['models'][wildcards.model]['tokenizer']}/tokenizer.json"


def model_vocab(wildcards):
    requested = config["tokenizers"][config["models"][wildcards.model]["tokenizer"]]["vocab_size"]
    return minnow_config.embedding_rows(requested)


def all_targets():
    """Each model in `targets`; with none, the shards of every tokenizer's corpus."""
    if config["targets"]:
        return [f"results/{m}/model.safetensors" for m in config["targets"]]
    return [f"results/shards/{t['corpus']}/{name}" for name, t in config["tokenizers"].items()]
