# Path and config helpers shared by the rules, so the rules hold no logic.
import re
from pathlib import Path

from minnow import code_digest, digests, packages
from minnow.workflow import checks, identity, inputs, job_memory, resources, targets
from minnow.workflow import config as minnow_config
from minnow.errors import InputError

try:
    checks.check(config)
except InputError as e:
    raise WorkflowError(str(e))

# Digests of local data files, reused while a file's size and mtime are unchanged.
DIGEST_CACHE = ".snakemake/minnow/file-digests.json"
# Checkpoints' (parameters, vocab, context), read from their files while Snakemake plans.
SIZE_CACHE = ".snakemake/minnow/checkpoint-shapes.json"


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
    not_a_model=f"(?!(?:{one_of([*config['models'], *targets.RESULT_FOLDERS])})/)[^/]+",


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
    return identity.local_digests(spec, DIGEST_CACHE)


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


def corpus_part_counts(wildcards):
    return {
        s: minnow_config.source_parts(config, s)
        for s in config["corpora"][wildcards.corpus]["sources"]
    }


def dedup_input(wildcards):
    return inputs.dedup_input(config, wildcards.corpus)


def corpus_index_input(wildcards):
    return inputs.corpus_index_input(config, wildcards.corpus)


def tokenizer_spec(wildcards):
    return config["tokenizers"][wildcards.tokenizer]


def tokenizer_input(wildcards):
    return inputs.tokenizer_input(config, wildcards.tokenizer)


def shard_input(wildcards):
    return inputs.shard_input(config, wildcards.corpus, wildcards.tokenizer)


def model_preset(wildcards):
    return minnow_config.model_preset(config, wildcards.model)


def model_shards(wildcards):
    m = config["models"][wildcards.model]
    return f"results/shards/{m['corpus']}/{m['tokenizer']}/meta.json"


def model_tokenizer(wildcards):
    return f"results/tokenizers/{config['models'][wildcards.model]['tokenizer']}/tokenizer.json"


def tokenizer_checkpoint_files(wildcards):
    spec = config["tokenizers"][wildcards.tokenizer].get("from")
    return identity.checkpoint_identity(spec, DIGEST_CACHE)


def model_init_weights(wildcards):
    return inputs.init_weights(config, wildcards.model)


def model_init_checkpoint(wildcards):
    """The checkpoint import_init reads; asking for another model's init folder is a mistake."""
    spec = minnow_config.init_checkpoint(config, wildcards.model)
    if spec is None:
        raise WorkflowError(
            f"results/{wildcards.model}/init: model {wildcards.model} has no init checkpoint (hf or gguf)"
        )
    return spec


def model_init_identity(wildcards):
    return identity.checkpoint_identity(model_init_checkpoint(wildcards), DIGEST_CACHE)


def model_stated_shape(wildcards):
    return minnow_config.stated_shape(config, wildcards.model)


def model_data(wildcards):
    return minnow_config.model_data(config, wildcards.model)


def model_vocab(wildcards):
    return minnow_config.requested_vocab_rows(config, wildcards.model)


def eval_set_spec(wildcards):
    return minnow_config.eval_set_spec(config, wildcards.evalset)


def eval_set_files(wildcards):
    return local_digests(eval_set_spec(wildcards))


def eval_set_input(wildcards):
    return inputs.eval_set_input(config, wildcards.evalset)


def reference_spec(wildcards):
    return config["references"][wildcards.reference]


def reference_files(wildcards):
    return local_digests(reference_spec(wildcards))


def reference_version(wildcards):
    return identity.package_version(reference_spec(wildcards))


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
    return resources.model_gpus(config, wildcards.model)


def model_nodes(wildcards):
    return resources.model_nodes(config, wildcards.model)


def model_eval_gpus(wildcards):
    return resources.model_eval_gpus(config, wildcards.model)


def reference_gpus(wildcards=None):
    return resources.reference_gpus(config)


def model_mem_mb(wildcards, attempt):
    return job_memory.perplexity_mb(config, SIZE_CACHE, attempt, model=wildcards.model)


def reference_mem_mb(wildcards, attempt):
    ref = wildcards.reference
    return job_memory.perplexity_mb(config, SIZE_CACHE, attempt, reference=ref)


def downstream_mem_mb(wildcards, attempt):
    model, reference = wildcards.get("model"), wildcards.get("reference")
    return job_memory.downstream_mb(config, SIZE_CACHE, attempt, model, reference)


def model_val_set(wildcards):
    return f"results/eval/{model_eval_sets(wildcards)[0]}.jsonl"


def perplexity_inputs(wildcards):
    return inputs.perplexity_input(config, wildcards.model)


def all_targets():
    return targets.all_targets(config)
