"""The rerun contract (docs/ARCHITECTURE.md, "Reruns"), each rule of it checked by Snakemake itself.

One small workflow reads local files (a glob of text files and a local eval set),
trains a model and evaluates, samples and exports it; each test changes one thing
as a user would and asks Snakemake what it would rerun, or reruns it and reads
what the train step did. Each test puts back what it changed.
"""

import json
import os
import re
from pathlib import Path

import pytest

from conftest import copy_workflow, planned_rules, snakemake, write_config

pytestmark = pytest.mark.slow
MODEL_DOWNSTREAM = {"perplexity": 1, "samples": 1, "export": 1, "report_model": 1, "all": 1}
FROM_THE_DATA = {
    "download": 1,
    "prepare_part": 1,
    "dedup": 1,
    "mix_part": 1,
    "report_corpus": 1,
    "train_tokenizer": 1,
    "shard_part": 2,
    "shard": 1,
    "train": 1,
    "eval_set": 1,
    **MODEL_DOWNSTREAM,
}
STEPS = 30


def config() -> dict:
    return {
        "experiment": "reruns",
        "sources": {"book": {"kind": "local", "paths": ["data/book/*.txt"]}},
        "corpora": {"books": {"sources": {"book": {"weight": 1, "text_unit": "paragraph"}}, "val_fraction": 0.1}},
        "tokenizers": {"bpe": {"corpus": "books", "vocab_size": 400}},
        "models": {
            "mini": {
                "corpus": "books",
                "tokenizer": "bpe",
                "params": 3.0e4,
                "d_model": 32,
                "n_layers": 1,
                "n_heads": 2,
                "n_kv_heads": 1,
                "ffn_dim": 64,
                "context": 32,
                "train": {
                    "steps": STEPS,
                    "batch_size": 8,
                    "warmup_steps": 5,
                    "eval_every": 15,
                    "eval_batches": 2,
                    "checkpoint_every": 10,
                    "device": "cpu",
                },
            }
        },
        "targets": ["mini"],
        "evaluation": {"max_bytes": 3000, "eval_sets": {"poem": {"kind": "local", "path": "data/poem.txt"}}},
        "references": {},
        "samples": {"prompts": ["the fish"], "chat": ["hi"], "max_tokens": 8},
        "export": {"gguf_types": ["f16"]},
    }


def write_book(folder: Path, name: str, first: int, count: int) -> None:
    from minnow.data.builtin import guppy

    talk = list(guppy.generate(first + count, seed=3))[first:]
    (folder / "data" / "book").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "book" / name).write_text("\n\n".join(f"{r['input']}\n{r['output']}" for r in talk) + "\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A workflow copy with local data, built to its targets once for the module."""
    folder = copy_workflow(tmp_path_factory.mktemp("reruns") / "minnow")
    write_config(folder, config())
    write_book(folder, "a.txt", 0, 600)
    write_book(folder, "b.txt", 600, 600)
    (folder / "data" / "poem.txt").write_text("the little fish swims in the warm blue water of the tank.\n" * 20)
    run(folder)
    return folder


def run(folder: Path, *args: str):
    return snakemake(folder, *args)


def plan(folder: Path, *args: str) -> dict[str, int]:
    """What Snakemake would rerun; it and its jobs import the copy's own lib (the Snakefile
    puts it first), so the edits below count without any PYTHONPATH of ours."""
    return planned_rules(folder, *args)


def summary(folder: Path) -> dict:
    return json.loads((folder / "results/mini/train_summary.json").read_text())


class Edited:
    """Change a file for the length of a `with` block, then put its content back."""

    def __init__(self, path: Path, change):
        self.path, self.change = path, change

    def __enter__(self):
        self.original = self.path.read_bytes()
        self.path.write_text(self.change(self.original.decode()))
        return self.path

    def __exit__(self, *exc):
        self.path.write_bytes(self.original)


def test_a_finished_build_has_nothing_to_do(built):
    assert plan(built) == {}


def test_the_train_log_holds_its_progress_bar_and_its_messages(built):
    """Run before any test reruns train: a re-finished run logs no steps."""
    log = (built / "results/logs/train/mini.log").read_text()
    assert "train: 100%" in log and "step 30/30" in log
    assert "\r" not in log


def test_editing_a_local_source_file_reruns_download_through_ppl_json(built):
    with Edited(built / "data/book/a.txt", lambda text: text.replace("fish", "trout", 3)):
        assert plan(built) == FROM_THE_DATA
    assert plan(built) == {}  # the same content again: its digest matches what the outputs were made from


def test_touching_a_local_source_file_reruns_nothing(built):
    os.utime(built / "data/book/b.txt")
    assert plan(built) == {}


def test_adding_or_removing_a_file_the_glob_matches_reruns_download(built):
    write_book(built, "c.txt", 1200, 50)
    try:
        assert plan(built) == FROM_THE_DATA
    finally:
        (built / "data/book/c.txt").unlink()
    assert plan(built) == {}


def test_editing_a_local_eval_set_rescores_only_that_set(built):
    with Edited(built / "data/poem.txt", lambda text: text + "a new last line.\n"):
        assert plan(built) == {"eval_set": 1, "perplexity": 1, "report_model": 1, "all": 1}


def test_comments_docstrings_and_error_text_in_any_lib_module_rerun_nothing(built):
    modules = sorted((built / "lib/minnow").rglob("*.py"))
    originals = {path: path.read_text() for path in modules}
    try:
        for path, text in originals.items():
            text = text.replace('"""', '"""Reworded. ', 1)  # the module docstring
            path.write_text(f"# a new comment\n{text}\n\n# another one\n")
        shards = built / "lib/minnow/tokens/shards.py"
        shards.write_text(shards.read_text().replace("truncated shard:", "shard cut short:"))
        assert plan(built) == {}
    finally:
        for path, text in originals.items():
            path.write_text(text)


def test_a_documentation_only_config_value_reruns_nothing(built):
    override = built / "params.yaml"
    override.write_text("models:\n  mini:\n    params: 9.9e+9\n")
    assert plan(built, "--configfile", str(override)) == {}


def test_a_change_to_the_loss_plot_refinishes_train_from_its_checkpoint(built):
    before = summary(built)
    plots = built / "lib/minnow/train/plots.py"
    with Edited(plots, lambda text: text.replace("figsize=(7, 4)", "figsize=(8, 4)")):
        assert plan(built) == {"train": 1, **MODEL_DOWNSTREAM}
        run(built)
        after = summary(built)
    assert after["resumed"] and after["steps_trained"] == 0 and after["steps"] == STEPS
    assert after["checkpoints"] == before["checkpoints"] and after["history"] == before["history"]
    run(built)  # the plot code as it was: again seconds, again no step trained
    assert summary(built)["steps_trained"] == 0


def test_a_change_to_the_memory_estimate_reruns_train_to_the_same_run(built):
    """train.memory only picks how a global batch is split, which the run's fingerprint leaves
    out (tests/test_code_closures.py): its step reruns, in the run folder it had, so it
    re-finishes as after the loss plot's change above (benchmarks/reruns.py measures it)."""
    memory = built / "lib/minnow/train/memory.py"
    with Edited(memory, lambda text: text.replace("USABLE_FRACTION = 0.9", "USABLE_FRACTION = 0.85")):
        assert plan(built) == {"train": 1, **MODEL_DOWNSTREAM}


def test_a_change_to_the_model_starts_train_over(built):
    before = summary(built)
    model = built / "lib/minnow/model/transformer.py"
    with Edited(model, lambda text: re.sub(r"std=0\.02\)", "std=0.021)", text, count=1)):
        run(built)
        changed = summary(built)
    assert not changed["resumed"] and changed["steps_trained"] == STEPS
    assert changed["checkpoints"] != before["checkpoints"]
    run(built)  # back to the old code: its run's checkpoint is still there, finished
    again = summary(built)
    assert again["checkpoints"] == before["checkpoints"] and again["steps_trained"] == 0
