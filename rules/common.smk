# Path and config helpers shared by the rules, so the rules hold no logic.
import re
from pathlib import Path

from minnow import code_digest, digests, packages
from minnow.model import param_count
from minnow.workflow import config as minnow_config
from minnow.workflow import job_memory
from minnow.errors import InputError

try:
    minnow_config.check(config)
except InputError as e:
    raise WorkflowError(str(e))

# Digests of local data files, reused while a file's size and mtime are unchanged.
DIGEST_CACHE = ".snakemake/minnow/file-digests.json"
# Checkpoints' (parameters, vocab, context), read from their files while Snakemake plans.
SIZE_CACHE = ".snakemake/minnow/checkpoint-shapes.json"
# Folders under results/ that are not models (a target below any other is a model's).
RESULT_FOLDERS = (
    "raw",
    "fetched",
    "corpus",
    "tokenizers",
    "shards",
    "eval",
    "references",
    "logs",
    "benchmarks",
)


def one_of(names):
    return "|".join(map(re.escape, names))


wildcard_constraints:
    source=r"[^/]+",
    part=r"\d{5}",
    split="train|val",
    corpus=r"[^/]+",
    tokenizer=r"[^/]+",
    model=one_of(config["models"]) or "no-models-defined",
    evalset=one_of(minnow_config.eval_set_names(config)),
    reference=one_of(config["references"]) or "no-references-defined",
    not_a_model=f"(?!(?:{one_of([*config['models'], *RESULT_FOLDERS])})/)[^/]+",


REPORT_PAGES = [
    f"report/{page}.html" for page in ("perplexity", "export", "samples", "training")
]


def code(step, exclude=frozenset()):
    """Digest of the lib modules a step's script imports: params rerun the step when they change."""
    return code_digest.digest(
        Path(workflow.basedir) / "workflow_scripts" / f"{step}.py", exclude
    )


def tokenizer_code(wildcards):
    """A trained tokenizer's digest leaves out the checkpoint loaders only a pretrained one
    uses, so that editing them does not retrain the tokenizer and everything after it.
    """
    kind = config["tokenizers"][wildcards.tokenizer]["kind"]
    return code("train_tokenizer", minnow_config.tokenizer_step_excludes(kind))


def create_tracking_store():
    """Create the MLflow store and experiment before any job runs (a fresh SQLite store races)."""
    from minnow.workflow import tracking

    tracking.ensure_store(config["experiment"])


def tracking_ui_hint():
    """Where to compare this experiment's runs, said after a successful run."""
    from minnow.workflow import tracking

    return tracking.ui_hint(config["experiment"])


def local_digests(spec):
    """sha256 of each local file a config entry reads, as a param: editing, adding or
    removing one reruns the rule (touching one does not)."""
    return digests.file_digests(minnow_config.local_files(spec), DIGEST_CACHE)


def unknown_model(wildcards):
    """Input function of the fallback rule: a target under results/ naming no model."""
    raise WorkflowError(
        f"results/{wildcards.not_a_model}/{wildcards.file}: '{wildcards.not_a_model}' is not a model "
        f"of this config ({minnow_config.known_models(config)})"
    )


def source_spec(wildcards):
    return config["sources"][wildcards.source]


def source_files(wildcards):
    return local_digests(source_spec(wildcards))


def source_parts(wildcards):
    return minnow_config.source_parts(config, wildcards.source)


def source_whole_text(wildcards):
    return minnow_config.whole_text(config, wildcards.source)


def download_input(wildcards):
    """A url source's parts read its one fetched download."""
    kind = config["sources"][wildcards.source]["kind"]
    return {"fetched": f"results/fetched/{wildcards.source}"} if kind == "url" else {}


def part_settings(wildcards):
    return minnow_config.part_settings(config, wildcards.corpus, wildcards.source)


def dedup_settings(wildcards):
    return minnow_config.dedup_settings(config, wildcards.corpus)


def corpus_parts(corpus):
    return minnow_config.corpus_parts(config, corpus)


def corpus_part_counts(wildcards):
    return {
        s: minnow_config.source_parts(config, s)
        for s in config["corpora"][wildcards.corpus]["sources"]
    }


def dedup_input(wildcards):
    """Every part's survivors, keys and stats, in the corpus's source order."""
    prepared = [
        f"results/corpus/{wildcards.corpus}/prepared/{s}/part-{p}"
        for s, p in corpus_parts(wildcards.corpus)
    ]
    return {
        "survivors": [f"{path}.parquet" for path in prepared],
        "dedup_keys": [f"{path}.keys.parquet" for path in prepared],
        "stats": [f"{path}.json" for path in prepared],
    }


def corpus_split(corpus, split):
    """The parquet parts of a corpus split."""
    return [
        f"results/corpus/{corpus}/{split}/{s}/part-{p}.parquet"
        for s, p in corpus_parts(corpus)
    ]


def corpus_index_input(wildcards):
    """Every mix part of the corpus, per split: corpus.json exists once all of them do."""
    return {split: corpus_split(wildcards.corpus, split) for split in ("train", "val")}


def tokenizer_spec(wildcards):
    return config["tokenizers"][wildcards.tokenizer]


def tokenizer_input(wildcards):
    """A trained tokenizer reads its corpus's train split; a pretrained one, its checkpoint."""
    corpus = config["tokenizers"][wildcards.tokenizer].get("corpus")
    if corpus is None:
        return {}
    return {
        "train": corpus_split(corpus, "train"),
        "stats": f"results/corpus/{corpus}/stats.json",
    }


def shard_input(wildcards):
    """Every part's shard and counts, per split, for the index."""
    folder = f"results/shards/{wildcards.corpus}/{wildcards.tokenizer}"
    parts = corpus_parts(wildcards.corpus)
    return {
        f"{split}_{suffix}": [f"{folder}/{split}/{s}/part-{p}.{ext}" for s, p in parts]
        for split in ("train", "val")
        for suffix, ext in (("shards", "bin"), ("counts", "json"))
    }


def model_preset(wildcards):
    return minnow_config.model_preset(config, wildcards.model)


def model_shards(wildcards):
    m = config["models"][wildcards.model]
    return f"results/shards/{m['corpus']}/{m['tokenizer']}/meta.json"


def model_tokenizer(wildcards):
    return f"results/tokenizers/{config['models'][wildcards.model]['tokenizer']}/tokenizer.json"


def tokenizer_checkpoint_files(wildcards):
    """A pretrained tokenizer's checkpoint: its local files' digests and its package's version."""
    return checkpoint_identity(config["tokenizers"][wildcards.tokenizer].get("from"))


def checkpoint_identity(spec):
    """What tells one copy of a checkpoint from another (none for a hub model, pinned by
    its revision): digests of its local files, the version of the package shipping it.
    """
    if not spec:
        return None
    package = spec.get("gguf_package")
    return {
        "files": local_digests(spec),
        "version": packages.version(package) if package else None,
    }


def model_init_weights(wildcards):
    """The finished weights a fine-tune starts from (none for a model trained from scratch):
    an edge, so retraining or reimporting the base retrains its fine-tunes."""
    folder = minnow_config.init_folder(config, wildcards.model)
    return [f"{folder}/model.safetensors"] if folder else []


def model_init_checkpoint(wildcards):
    """The checkpoint import_init reads; asking for another model's init folder is a mistake."""
    spec = minnow_config.init_checkpoint(config, wildcards.model)
    if spec is None:
        raise WorkflowError(
            f"results/{wildcards.model}/init: model {wildcards.model} has no init checkpoint (hf or gguf)"
        )
    return spec


def model_init_identity(wildcards):
    return checkpoint_identity(model_init_checkpoint(wildcards))


def model_stated_shape(wildcards):
    """The shape keys a preset states, which its imported checkpoint must agree with."""
    return {
        k: v
        for k, v in config["models"][wildcards.model].items()
        if k in minnow_config.SHAPE
    }


def model_data(wildcards):
    return minnow_config.model_data(config, wildcards.model)


def model_vocab(wildcards):
    """Embedding rows from the config (None: the init model's, or the pretrained tokenizer's)."""
    if minnow_config.init_checkpoint(config, wildcards.model):
        return None
    requested = config["tokenizers"][
        config["models"][wildcards.model]["tokenizer"]
    ].get("vocab_size")
    return param_count.embedding_rows(requested) if requested else None


def eval_set_spec(wildcards):
    return minnow_config.eval_set_spec(config, wildcards.evalset)


def eval_set_files(wildcards):
    return local_digests(eval_set_spec(wildcards))


def eval_set_input(wildcards):
    """A corpus's eval set reads its held-out parts (every source's, unthinned)."""
    spec = eval_set_spec(wildcards)
    heldout = spec["kind"] == "corpus_heldout"
    return {"heldout": corpus_split(spec["corpus"], "heldout")} if heldout else {}


def reference_spec(wildcards):
    return config["references"][wildcards.reference]


def reference_files(wildcards):
    return local_digests(reference_spec(wildcards))


def reference_version(wildcards):
    """The installed version of the package shipping a reference's GGUF, so that a new
    wheel rescores it (hub models are pinned through `revision` instead)."""
    package = config["references"][wildcards.reference].get("gguf_package")
    return packages.version(package) if package else None


def downstream_settings():
    return minnow_config.downstream(config)


def downstream_task_files():
    """Digests of the custom task folder's files: editing a task or its data reruns."""
    return digests.file_digests(
        minnow_config.downstream_task_files(config), DIGEST_CACHE
    )


def model_eval_sets(wildcards):
    return minnow_config.model_eval_sets(config, wildcards.model)


def model_gpus(wildcards):
    """GPUs the train job asks a cluster for: none for a CPU preset, else `train.gpus`
    on each of its `train.nodes` (one job; torchrun starts a process per GPU in it)."""
    train = config["models"][wildcards.model]["train"]
    return 0 if train["device"] == "cpu" else train["gpus"] * train["nodes"]


def model_nodes(wildcards):
    """Nodes the train job asks a cluster for: srun starts a torchrun agent on each."""
    return config["models"][wildcards.model]["train"]["nodes"]


def model_mem_mb(wildcards, attempt):
    """Memory for scoring a model (and its init base, of the same shape) in ppl.json's batches."""
    return job_memory.perplexity_mb(config, SIZE_CACHE, attempt, model=wildcards.model)


def reference_mem_mb(wildcards, attempt):
    """Memory for scoring a reference in ppl.json's batches (16 GB where its size is unknown)."""
    return job_memory.perplexity_mb(
        config, SIZE_CACHE, attempt, reference=wildcards.reference
    )


def downstream_mem_mb(wildcards, attempt):
    """Memory for lm-eval on a model or a reference, in its batches of full windows."""
    model, reference = wildcards.get("model"), wildcards.get("reference")
    return job_memory.downstream_mb(config, SIZE_CACHE, attempt, model, reference)


def model_eval_gpus(wildcards):
    """Scoring, sampling and export run in one process: at most one GPU, none where
    evaluation.device is cpu."""
    return min(model_gpus(wildcards), reference_gpus())


def reference_gpus(wildcards=None):
    """A reference is scored where evaluation.device says: on a GPU unless it says cpu."""
    return 0 if config["evaluation"]["device"] == "cpu" else 1


def model_val_set(wildcards):
    return f"results/eval/{model_eval_sets(wildcards)[0]}.jsonl"


def perplexity_inputs(wildcards):
    sets = model_eval_sets(wildcards)
    return {
        "weights": f"results/{wildcards.model}/model.safetensors",
        "tokenizer": f"results/{wildcards.model}/tokenizer.json",
        "documents": [f"results/eval/{s}.jsonl" for s in sets],
        "metas": [f"results/eval/{s}.json" for s in sets],
        "init": model_init_weights(wildcards),
        "references": [
            f"results/references/{r}/{s}.json"
            for s in sets
            for r in config["references"]
        ],
    }


def all_targets():
    """Each model in `targets`, evaluated, exported and with its report pages (and its
    corpus's), and its downstream benchmarks where tasks are configured; with no
    targets, the shards of every trained tokenizer's corpus."""
    if config["targets"]:
        outputs = ("ppl.json", "samples.md", "export/quant.json", *REPORT_PAGES)
        if minnow_config.downstream(config)["tasks"]:
            outputs += ("downstream.json", "report/downstream.html")
        corpora = {config["models"][m]["corpus"] for m in config["targets"]}
        return [f"results/{m}/{out}" for m in config["targets"] for out in outputs] + [
            f"results/corpus/{c}/stats.html" for c in sorted(corpora)
        ]
    return [
        f"results/shards/{t['corpus']}/{name}/meta.json"
        for name, t in config["tokenizers"].items()
        if "corpus" in t  # a pretrained tokenizer has none
    ]
