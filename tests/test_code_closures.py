"""Which lib modules each step's code digest and the training fingerprint cover, pinned.

A module in a step's closure reruns that step when its code changes; a module in
the weights closure starts training over. So each closure must hold only code
that can change the step's outputs (or the weights), and a module joining one
(say, through an import added inside a function) must be seen in review: these
tables fail until they are updated. Plan-time code (what Snakemake calls while it
plans: `minnow.workflow.config`, `sizes`, `job_memory`) and MLflow's (`tracking`,
`run_groups`) must be in none of them (NEVER).
"""

from pathlib import Path

import pytest

from minnow import code_digest
from minnow.train import checkpoint
from minnow.workflow.config import tokenizer_step_excludes

REPO = Path(__file__).resolve().parents[1]
# every script imports minnow.workflow.tracking (left out: it only logs), whose packages come
# along, and writes its outputs atomically
ALWAYS = {"minnow", "workflow", "atomic"}
DATA = {"errors", "data", "data.documents", "data.readers"}
FILTERS = {"data.filters", "data.minhash", "data.normalize", "data.prepare", "data.repetition", "data.word_hashes"}
SOURCES = {"errors", "data", "data.readers", "data.parts", "digests", "data.download", "data.fetch", "data.hf"}
EVAL_SET = {"eval", "eval.eval_sets", "data.hf", "digests", *DATA}
SCORING = {"errors", "devices", "eval", "eval.perplexity", "workflow.isolated"}
REPORT = {"workflow.report_pages"}
TOKENS = {"errors", "tokens", "tokens.chat_layout", "tokens.tokenizer"}
MODEL = {"model", "model.transformer", "model.model_folder", *TOKENS}
PRETRAINED = {"pretrained", "pretrained.loaders"}
REFERENCE = {"eval.references", "eval.windows", *PRETRAINED}
STEP_CLOSURES = {
    "fetch": {"data.builtin", "data.builtin.guppy", "data.builtin.python_docs", *SOURCES},
    "download": {"data.builtin", "data.builtin.guppy", "data.builtin.python_docs", *SOURCES},
    "prepare_part": {"digests", *FILTERS, *DATA},
    "dedup": {"digests", "data.corpus_stats", "data.dedup", "data.mix", "data.parts", "data.split", *FILTERS, *DATA},
    "mix_part": {"digests", "data.mix", "data.parts", "data.split", *FILTERS, *DATA},
    "corpus_index": {"data", "data.corpus_index"},
    "report_corpus": REPORT,
    "train_tokenizer": {"pretrained.tokenizer", *PRETRAINED, *TOKENS},
    "import_init": {"pretrained.init_import", *PRETRAINED, *MODEL},
    "shard_part": {"tokens.shards", *TOKENS},
    "shard": {"tokens.shards", *TOKENS},
    "train": {
        *("train", "train.job", "train.loop", "train.batches", "train.checkpoint", "train.optim", "train.parallel"),
        *(
            "train.launch",
            "train.memory",
            "train.precision",
            "train.plots",
            "train.settings",
            "train.start",
            "model.param_count",
            "tokens.shards",
        ),
        "devices",
        *("code_digest", "digests", *MODEL),
    },
    "eval_set": EVAL_SET,
    "reference_perplexity": {*REFERENCE, *SCORING, *EVAL_SET},
    "perplexity": {"eval.ppl_json", "eval.scoring", *MODEL, *SCORING, *EVAL_SET},
    "samples": {"inference", "inference.samples", "inference.chat", "inference.generate", "devices", *MODEL},
    "export": {
        *("export", "export.stage", "export.quantize", "export.gguf_writer", "eval.llama_cpp_scoring", "packages"),
        *("eval.scoring", "eval.perplexity", "devices", *EVAL_SET, *MODEL),
    },
    "report_model": REPORT,
    "reference_downstream": {"eval.downstream", *REFERENCE, *SCORING},
    "downstream": {"eval.downstream_folder", "eval.downstream", *REFERENCE, *SCORING, *TOKENS},
    "report_downstream": REPORT,
}
# the training fingerprint: what can change the weights a run computes
WEIGHTS = {
    *(
        "train.loop",
        "train.settings",
        "train.start",
        "train.batches",
        "train.checkpoint",
        "train.optim",
        "train.parallel",
    ),
    *("model", "model.transformer", "tokens", "tokens.shards", "tokens.tokenizer", "tokens.chat_layout", "devices"),
}
NEVER = {"workflow.config", "workflow.sizes", "workflow.job_memory", "workflow.run_groups", "workflow.tracking"}


def names(files: list[Path]) -> set[str]:
    return {code_digest._module_name(f).removeprefix("minnow.") for f in files}


@pytest.mark.parametrize("step", sorted(STEP_CLOSURES))
def test_each_steps_digest_covers_exactly_its_table_row(step):
    found = names(code_digest.module_files(REPO / "workflow_scripts" / f"{step}.py"))
    expected = STEP_CLOSURES[step] | ALWAYS
    assert found == expected, f"{step}: joined {sorted(found - expected)}, left {sorted(expected - found)}"
    assert not found & NEVER


def test_every_step_script_has_a_row():
    assert {p.stem for p in (REPO / "workflow_scripts").glob("*.py")} == set(STEP_CLOSURES)


def test_a_trained_tokenizers_digest_leaves_out_the_checkpoint_loaders():
    script = REPO / "workflow_scripts/train_tokenizer.py"
    trained = names(code_digest.module_files(script, tokenizer_step_excludes("bpe")))
    assert trained == {"tokens", "tokens.tokenizer", "errors"} | ALWAYS
    pretrained = names(code_digest.module_files(script, tokenizer_step_excludes("pretrained")))
    assert pretrained == STEP_CLOSURES["train_tokenizer"] | ALWAYS


def test_the_training_fingerprint_covers_exactly_the_code_that_shapes_the_weights():
    found = names(code_digest.module_closure("minnow.train.loop", checkpoint.NOT_WEIGHTS))
    assert found == WEIGHTS, f"joined {sorted(found - WEIGHTS)}, left {sorted(WEIGHTS - found)}"
