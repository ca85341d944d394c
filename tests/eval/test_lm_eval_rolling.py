"""ppl.json equals lm-evaluation-harness: the same documents, scored by lm-eval's own
`loglikelihood_rolling` (a local task over the eval set's JSON lines), give the same
bits per byte and word perplexity for a minnow model (through its HF export) and for
the reference, to 1e-4 relative in fp32. Documents longer than either model's
context make both take several rolling windows. The same task turned on in the
downstream stage gives the same figures again, in bounded memory."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from minnow.eval.eval_sets import read_documents

import lm_eval_tasks
from conftest import REPO, job_requests, peak_rss_mb, planned_rules, snakemake

pytestmark = pytest.mark.slow
REFERENCE = "smollm2-135m-instruct-q4_1"


def documents() -> list[str]:
    """docs/BENCHMARKS.md's first sections as documents: prose, tables, figures and code;
    the longest ones run past tiny's context several times and past SmolLM2's 1024 tokens."""
    text = (REPO / "docs/BENCHMARKS.md").read_text(encoding="utf-8")
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
    settings = {"eval_sets": {"docs": {"kind": "local", "path": str(docs)}}}  # under the default cap
    extra.write_text(yaml.safe_dump({"evaluation": settings}))
    # the target first: --configfile takes every path after it
    assert planned_rules(folder, "results/tiny/ppl.json", "--configfile", str(extra)) == {
        "eval_set": 1,
        "reference_perplexity": 1,
        "perplexity": 1,
    }
    snakemake(folder, "results/tiny/ppl.json", "--configfile", str(extra))
    return folder, json.loads((folder / "results/tiny/ppl.json").read_text())["eval_sets"]["docs"]


def rolling_task(folder: Path, documents: Path) -> Path:
    """A task a user would write for the eval set: a folder with its YAML and its JSON lines."""
    metrics = ("word_perplexity", "byte_perplexity", "bits_per_byte")
    return lm_eval_tasks.rolling_task(
        folder / "tasks-rolling", "docs_rolling", read_documents(documents), "text", metrics
    )


def lm_eval_rolling(folder: Path, model_args: dict, start_token: str) -> dict:
    """lm-eval's own figures for the eval set, run by hand: batch 1, the window and start token given."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = rolling_task(folder, folder / "results/eval/docs.jsonl")
    lm = HFLM(**model_args, dtype="float32", batch_size=1, device="cpu")
    assert lm.tokenizer.convert_ids_to_tokens(lm.prefix_token_id) == start_token
    results = simple_evaluate(model=lm, tasks=["docs_rolling"], task_manager=TaskManager(include_path=str(tasks)))
    return results["results"]["docs_rolling"]


@pytest.fixture(scope="module")
def by_hand(scored) -> dict[str, dict]:
    """lm-eval by hand on the tiny model's HF export and on the reference, each with the
    window and start token ppl.json used for it."""
    folder, entry = scored
    ours, ref = entry["model"], entry["references"][REFERENCE]
    eos = json.loads((folder / "results/tiny/export/hf/config.json").read_text())["eos_token_id"]
    tiny = {"pretrained": str(folder / "results/tiny/export/hf"), "max_length": ours["context"], "prefix_token_id": eos}
    from minnow.pretrained.loaders import gguf_path

    path = gguf_path(yaml.safe_load((REPO / "config/config.yaml").read_text())["references"][REFERENCE])
    reference = {"pretrained": str(path.parent), "gguf_file": path.name, "max_length": 1024, "prefix_token_id": 0}
    return {
        "tiny": lm_eval_rolling(folder, tiny, ours["start_token"]),
        REFERENCE: lm_eval_rolling(folder, reference, ref["start_token"]),
    }


@pytest.fixture(scope="module")
def downstream(scored, by_hand) -> tuple[Path, dict]:
    """The same task turned on in the downstream stage, through Snakemake: its folder, downstream.json."""
    folder, _ = scored
    tasks = rolling_task(folder, folder / "results/eval/docs.jsonl")
    extra = folder / "downstream.yaml"
    evaluation = yaml.safe_load((folder / "docs.yaml").read_text())["evaluation"]
    evaluation["downstream"] = {"tasks": ["docs_rolling"], "include_path": str(tasks)}
    extra.write_text(yaml.safe_dump({"evaluation": evaluation}))
    assert planned_rules(folder, "results/tiny/downstream.json", "--configfile", str(extra)) == {
        "reference_downstream": 1,
        "downstream": 1,
    }
    snakemake(folder, "results/tiny/downstream.json", "--configfile", str(extra))
    return folder, json.loads((folder / "results/tiny/downstream.json").read_text())


def assert_same(ours: dict, theirs: dict, documents: int):
    assert ours["documents"] == documents
    assert ours["bits_per_byte"] == pytest.approx(theirs["bits_per_byte,none"], rel=1e-4)
    assert ours["word_perplexity"] == pytest.approx(theirs["word_perplexity,none"], rel=1e-4)


def test_the_eval_set_holds_the_documents_as_written(scored):
    folder, entry = scored
    stored = [json.loads(line)["text"] for line in (folder / "results/eval/docs.jsonl").read_text().splitlines()]
    assert stored == documents() and entry["bytes"] == sum(len(d.encode()) for d in documents())
    assert entry["model"]["bytes"] == entry["bytes"] == entry["references"][REFERENCE]["bytes"]


def test_a_minnow_model_through_its_hf_export_equals_lm_eval(scored, by_hand):
    _, entry = scored
    ours = entry["model"]
    assert ours["tokens"] > 3 * ours["context"]  # rolling windows, not one pass per document
    assert_same(ours, by_hand["tiny"], len(documents()))


def test_the_reference_equals_lm_eval(scored, by_hand):
    _, entry = scored
    ref = entry["references"][REFERENCE]
    assert ref["start_token"] == "<|endoftext|>" and ref["context"] == 1024
    assert ref["tokens"] > 1024  # at least one document takes two windows
    assert_same(ref, by_hand[REFERENCE], len(documents()))


def test_the_downstream_stage_reads_both_models_as_ppl_json_and_lm_eval_by_hand_do(scored, by_hand, downstream):
    _, entry = scored
    _, result = downstream
    for name, ours, ppl in (
        ("tiny", result, entry["model"]),
        (REFERENCE, result["references"][REFERENCE], entry["references"][REFERENCE]),
    ):
        metrics = ours["tasks"]["docs_rolling"]["metrics"]
        assert (ours["read"]["max_length"], ours["read"]["prefix_token"]) == (ppl["context"], ppl["start_token"])
        assert metrics["bits_per_byte"] == pytest.approx(by_hand[name]["bits_per_byte,none"], rel=1e-4), name
        assert metrics["bits_per_byte"] == pytest.approx(ppl["bits_per_byte"], rel=1e-4), name
        assert metrics["word_perplexity"] == pytest.approx(ppl["word_perplexity"], rel=1e-4), name


def test_each_downstream_job_stays_under_the_memory_it_asked_for(downstream):
    """On a CPU `batch_size: auto` is one window, not lm-eval's probe: SmolLM2 peaks under
    4 GB, and each job under the mem_mb it asked Snakemake for (SmolLM2 1.7 GB of 2.5)."""
    folder, result = downstream
    assert result["references"][REFERENCE]["read"]["batch_size"] == 1
    asked = job_requests(folder)
    reference = peak_rss_mb(folder, f"reference_downstream/{REFERENCE}.tsv")
    assert reference < min(4000, asked[("reference_downstream", f"reference={REFERENCE}")])
    assert peak_rss_mb(folder, "downstream/tiny.tsv") < asked[("downstream", "model=tiny")]


def killed_child_of(step: str, timeout: float = 120) -> int:
    """SIGKILL the forked child doing a step's work (a process whose parent has its own
    command line), as the kernel's OOM killer would; its pid."""
    import signal
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            try:
                if f"{step}.py" in line and " ".join(proc.parent().cmdline()) == line:
                    proc.send_signal(signal.SIGKILL)
                    return proc.pid
            except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
                continue
        time.sleep(0.2)
    raise AssertionError(f"no {step} work process appeared in {timeout:.0f} s")


def test_a_scoring_step_killed_like_the_oom_killer_would_says_why(downstream):
    import os
    import subprocess

    from conftest import BIN

    folder, _ = downstream
    target = folder / f"results/references/{REFERENCE}/downstream.json"
    cmd = [str(BIN / "snakemake"), "--cores", "2", str(target.relative_to(folder))]
    cmd += ["--configfile", str(folder / "downstream.yaml"), "--forcerun", "reference_downstream"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        killed_child_of("reference_downstream")
        output, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    said = f"lm-eval on reference {REFERENCE} was killed by SIGKILL (signal 9). The usual cause is memory"
    assert said in (folder / f"results/logs/reference_downstream/{REFERENCE}.log").read_text()
    assert said in output and "mem_mb=" in output
    assert not target.exists()
