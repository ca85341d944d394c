"""Downstream benchmarks through lm-evaluation-harness, offline: two custom tasks from local
JSONL files (one multiple-choice, one loglikelihood cloze) scored by Snakemake's downstream
stage on the main job's tiny model and its reference, equal to what lm-eval's own CLI says."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import planned_rules, snakemake

pytestmark = pytest.mark.slow

MC = [
    ("the guppy lives in a", ["tank", "desert", "volcano", "cloud"]),
    ("guppy likes to eat", ["flakes", "rocks", "cars", "books"]),
    ("the water in the tank is", ["warm", "fire", "paper", "metal"]),
    ("a fish can", ["swim", "fly a plane", "drive", "type"]),
    ("the castle in the tank is", ["grey", "loud", "hungry", "angry"]),
    ("i am a small", ["fish", "mountain", "ocean", "city"]),
    ("blub! i like to", ["swim", "compile", "vote", "ski"]),
]
CLOZE = [
    "hi guppy! blub. i am a small fish",
    "the tank is warm and the castle is grey",
    "i like to eat flakes",
    "def read_file(path):\n    return open(path).read",
    "the water is clean today and i swim",
]


def write_tasks(folder: Path) -> Path:
    """lm-eval task YAMLs over local JSONL files, as a user writes custom tasks."""
    folder.mkdir(parents=True)
    with open(folder / "mc.jsonl", "w") as f:
        for question, choices in MC:
            f.write(json.dumps({"question": question, "choices": choices, "answer": 0}) + "\n")
    with open(folder / "cloze.jsonl", "w") as f:
        for text in CLOZE:
            f.write(json.dumps({"text": text}) + "\n")
    common = {"dataset_path": "json", "test_split": "test"}
    (folder / "guppy_mc.yaml").write_text(
        yaml.safe_dump(
            {
                "task": "guppy_mc",
                **common,
                "dataset_kwargs": {"data_files": {"test": str(folder / "mc.jsonl")}},
                "output_type": "multiple_choice",
                "doc_to_text": "{{question}}",
                "doc_to_choice": "{{choices}}",
                "doc_to_target": "answer",
                "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}],
            }
        )
    )
    (folder / "guppy_cloze.yaml").write_text(
        yaml.safe_dump(
            {
                "task": "guppy_cloze",
                **common,
                "dataset_kwargs": {"data_files": {"test": str(folder / "cloze.jsonl")}},
                "output_type": "loglikelihood",
                "doc_to_text": "{{text.split(' ')[:-1]|join(' ')}}",
                "doc_to_target": "{{' ' + text.split(' ')[-1]}}",
                "target_delimiter": "",
                "metric_list": [{"metric": "perplexity"}, {"metric": "acc"}],
            }
        )
    )
    return folder


@pytest.fixture(scope="module")
def downstream_build(default_build, tmp_path_factory):
    """A copy of the main job's build with two local tasks configured, before the stage ran."""
    folder = tmp_path_factory.mktemp("downstream") / "minnow"
    shutil.copytree(default_build, folder, symlinks=True)
    tasks = write_tasks(folder / "tasks")
    extra = folder / "downstream.yaml"
    settings = {"tasks": [{"task": "guppy_mc", "fewshot": 2}, "guppy_cloze"], "include_path": str(tasks)}
    extra.write_text(yaml.safe_dump({"evaluation": {"downstream": settings}}))
    return folder, str(extra)


def test_turning_tasks_on_runs_only_the_downstream_stage(downstream_build):
    folder, extra = downstream_build
    assert planned_rules(folder, "--configfile", extra) == {
        "reference_downstream": 1,
        "downstream": 1,
        "report_downstream": 1,
        "all": 1,
    }
    snakemake(folder, "--configfile", extra)
    assert planned_rules(folder) == {}  # and the default config is still built


def lm_eval_cli(folder: Path, task: str, fewshot: int | None, out: Path) -> tuple[dict, str]:
    """lm-eval's own CLI on the exported folder: its results file and what it printed."""
    cmd = [
        str(Path(sys.executable).parent / "lm_eval"),
        "--model",
        "hf",
        "--model_args",
        f"pretrained={folder / 'results/tiny/export/hf'},dtype=float32",
        "--tasks",
        task,
        "--include_path",
        str(folder / "tasks"),
        "--device",
        "cpu",
        "--batch_size",
        "auto",
        "--output_path",
        str(out),
    ]
    cmd += ["--num_fewshot", str(fewshot)] if fewshot is not None else []
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(next(out.rglob("results_*.json")).read_text())["results"][task], proc.stdout


def test_downstream_json_equals_lm_evals_cli_and_sits_beside_the_reference(downstream_build, tmp_path):
    folder, extra = downstream_build
    snakemake(folder, "--configfile", extra)
    result = json.loads((folder / "results/tiny/downstream.json").read_text())
    mc, cloze = result["tasks"]["guppy_mc"], result["tasks"]["guppy_cloze"]
    assert (mc["num_fewshot"], mc["samples"], cloze["num_fewshot"], cloze["samples"]) == (2, len(MC), 0, len(CLOZE))
    for task, ours, fewshot in (("guppy_mc", mc, 2), ("guppy_cloze", cloze, None)):
        theirs, printed = lm_eval_cli(folder, task, fewshot, tmp_path / task)
        assert ours["metrics"]["acc"] == theirs["acc,none"]
        assert f"{ours['metrics']['acc']:.4f}" in printed
    assert mc["metrics"]["acc_norm"] == theirs_of(tmp_path / "guppy_mc")["acc_norm,none"]
    assert cloze["metrics"]["perplexity"] == pytest.approx(
        theirs_of(tmp_path / "guppy_cloze")["perplexity,none"], rel=1e-6
    )
    reference = result["references"]["smollm2-135m-instruct-q4_1"]["tasks"]
    assert set(reference) == {"guppy_mc", "guppy_cloze"} and reference["guppy_mc"]["samples"] == len(MC)
    assert reference["guppy_mc"]["metrics"]["acc"] >= 5 / 7  # a 135M model knows a fish lives in a tank
    page = (folder / "results/tiny/report/downstream.html").read_text()
    assert "<h2>guppy_mc</h2>" in page and "<td>smollm2-135m-instruct-q4_1</td>" in page


def theirs_of(out: Path) -> dict:
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]
    return next(iter(results.values()))


def test_downstream_metrics_reach_mlflow(downstream_build):
    folder, extra = downstream_build
    snakemake(folder, "--configfile", extra)
    with sqlite3.connect(folder / "results" / "mlflow.db") as db:
        keys = {
            k
            for (k,) in db.execute(
                "select m.key from metrics m join tags t"
                " on t.run_uuid = m.run_uuid and t.key = 'step' and t.value = 'downstream'"
            )
        }
    assert {"guppy_mc.acc", "guppy_mc.acc_norm", "guppy_cloze.perplexity", "guppy_cloze.acc"} <= keys


def test_editing_a_task_file_reruns_the_tasks_and_nothing_else(downstream_build):
    folder, extra = downstream_build
    snakemake(folder, "--configfile", extra)
    with open(folder / "tasks" / "cloze.jsonl", "a") as f:
        f.write(json.dumps({"text": "the little fish swims past the castle"}) + "\n")
    assert planned_rules(folder, "--configfile", extra) == {
        "reference_downstream": 1,
        "downstream": 1,
        "report_downstream": 1,
        "all": 1,
    }
