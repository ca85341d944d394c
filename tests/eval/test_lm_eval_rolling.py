"""ppl.json equals lm-evaluation-harness: the same documents, scored by lm-eval's own
`loglikelihood_rolling` (a local task over the eval set's JSON lines), give the same
bits per byte and word perplexity for a minnow model (through its HF export) and for
the reference, to 1e-4 relative in fp32. Documents longer than either model's
context make both take several rolling windows."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO, planned_rules, snakemake

pytestmark = pytest.mark.slow
REFERENCE = "smollm2-135m-instruct-q4_1"


def documents() -> list[str]:
    """README's sections as documents: prose, tables and code; the longest ones run past
    tiny's context several times and past SmolLM2's 1024 tokens."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    sections = ["## " + s for s in text.split("\n## ")[1:]]
    return [s for s in sections if 200 < len(s) < 6000][:5]


@pytest.fixture(scope="module")
def scored(default_build, tmp_path_factory):
    """A copy of the main job's build with one more eval set, a JSON-lines file of documents."""
    folder = tmp_path_factory.mktemp("rolling") / "minnow"
    shutil.copytree(default_build, folder, symlinks=True)
    docs = folder / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": d}) + "\n" for d in documents()), encoding="utf-8")
    extra = folder / "docs.yaml"
    settings = {"eval_sets": {"readme": {"kind": "local", "path": str(docs)}}}  # under the default cap
    extra.write_text(yaml.safe_dump({"evaluation": settings}))
    # the target first: --configfile takes every path after it
    assert planned_rules(folder, "results/tiny/ppl.json", "--configfile", str(extra)) == {
        "eval_set": 1,
        "reference_perplexity": 1,
        "perplexity": 1,
    }
    snakemake(folder, "results/tiny/ppl.json", "--configfile", str(extra))
    return folder, json.loads((folder / "results/tiny/ppl.json").read_text())["eval_sets"]["readme"]


def lm_eval_rolling(folder: Path, model_args: dict, start_token: str) -> dict:
    """lm-eval's own figures for the eval set, from a task a user would write for it."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = folder / "tasks-rolling"
    tasks.mkdir(exist_ok=True)
    task = {
        "task": "readme_rolling",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(folder / "results/eval/readme.jsonl")}},
        "test_split": "test",
        "output_type": "loglikelihood_rolling",
        "doc_to_text": "",
        "doc_to_target": "text",
        "metric_list": [{"metric": m} for m in ("word_perplexity", "byte_perplexity", "bits_per_byte")],
    }
    (tasks / "readme_rolling.yaml").write_text(yaml.safe_dump(task))
    lm = HFLM(**model_args, dtype="float32", batch_size=1, device="cpu")
    assert lm.tokenizer.convert_ids_to_tokens(lm.prefix_token_id) == start_token
    results = simple_evaluate(model=lm, tasks=["readme_rolling"], task_manager=TaskManager(include_path=str(tasks)))
    return results["results"]["readme_rolling"]


def assert_same(ours: dict, theirs: dict, documents: int):
    assert ours["documents"] == documents
    assert ours["bits_per_byte"] == pytest.approx(theirs["bits_per_byte,none"], rel=1e-4)
    assert ours["word_perplexity"] == pytest.approx(theirs["word_perplexity,none"], rel=1e-4)


def test_the_eval_set_holds_the_documents_as_written(scored):
    folder, entry = scored
    stored = [json.loads(line)["text"] for line in (folder / "results/eval/readme.jsonl").read_text().splitlines()]
    assert stored == documents() and entry["bytes"] == sum(len(d.encode()) for d in documents())
    assert entry["model"]["bytes"] == entry["bytes"] == entry["references"][REFERENCE]["bytes"]


def test_a_minnow_model_through_its_hf_export_equals_lm_eval(scored):
    folder, entry = scored
    ours = entry["model"]
    assert ours["tokens"] > 3 * ours["context"]  # rolling windows, not one pass per document
    eos = json.loads((folder / "results/tiny/export/hf/config.json").read_text())["eos_token_id"]
    args = {"pretrained": str(folder / "results/tiny/export/hf"), "max_length": ours["context"], "prefix_token_id": eos}
    assert_same(ours, lm_eval_rolling(folder, args, ours["start_token"]), len(documents()))


def test_the_reference_equals_lm_eval(scored):
    folder, entry = scored
    ref = entry["references"][REFERENCE]
    assert ref["start_token"] == "<|endoftext|>" and ref["context"] == 1024
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())["references"][REFERENCE]
    from minnow.checkpoints import gguf_path

    path = gguf_path(config)
    args = {"pretrained": str(path.parent), "gguf_file": path.name, "max_length": 1024, "prefix_token_id": 0}
    assert ref["tokens"] > 1024  # at least one document takes two windows
    assert_same(ref, lm_eval_rolling(folder, args, ref["start_token"]), len(documents()))
