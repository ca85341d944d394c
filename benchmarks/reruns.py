"""What one change costs: the rules Snakemake reruns after it, and their seconds against a full build.

    python benchmarks/reruns.py [--cores 2] [--keep DIR] [--first N]

Copies the workflow as a fresh clone has it into a temporary folder and builds
the main job of the default config, with a small local source (data/notes/,
5% of the mix) and a local eval set (data/poem.txt) added so that edits to
local files can be shown too: that build is the baseline. Then, for each change
in CHANGES, it applies the change, runs `snakemake`, records the rules that ran,
the train step's `steps_trained` and the wall time, puts the change back and
rebuilds (untimed); `--first N` measures only the first N changes (the later ones
retrain from step 0, twice each). Prints a Markdown table; each time is also given as a share
of the full build measured in the same run. The copy's Snakefile puts its own
lib first, so edits to the copy's lib/minnow count.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import copy_workflow, cpu_name

BIN = Path(sys.executable).parent
OVERLAY = {
    "sources": {"notes": {"kind": "local", "paths": ["data/notes/*.txt"]}},
    "corpora": {
        "default": {
            "sources": {
                "guppy": {"weight": 0.65, "lowercase": True},
                "pydocs": {"weight": 0.3},
                "notes": {"weight": 0.05},
            }
        }
    },
    "evaluation": {"eval_sets": {"poem": {"kind": "local", "path": "data/poem.txt"}}},
}


def write_data(folder: Path) -> None:
    sys.path.insert(0, str(folder / "lib"))
    from minnow.data.builtin import guppy

    notes = folder / "data" / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    for part in range(2):
        talk = guppy.generate(3000, seed=100 + part)
        (notes / f"part{part}.txt").write_text("\n\n".join(f"{r['input']}\n{r['output']}" for r in talk) + "\n")
    (folder / "data" / "poem.txt").write_text("the little fish swims in the warm blue water of the tank.\n" * 40)


def snakemake(folder: Path, cores: int, *args: str) -> tuple[float, dict[str, int]]:
    """Run snakemake; return its wall time and the jobs per rule it ran."""
    start = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--cores", str(cores), "--configfile", "overlay.yaml", *args],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, job_stats(proc.stdout + proc.stderr)


def job_stats(output: str) -> dict[str, int]:
    table = output.split("Job stats:", 1)[1].split("total", 1)[0] if "Job stats:" in output else ""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE) if m[1] != "job"}


def edit(path: str, old: str, new: str):
    """A change that replaces `old` by `new` in one file of the copy."""

    def apply(folder: Path) -> None:
        file = folder / path
        text = file.read_text()
        assert old in text, (path, old)
        file.write_text(text.replace(old, new, 1))

    return apply


def every_module_commented(folder: Path) -> None:
    for path in (folder / "lib/minnow").rglob("*.py"):
        text = path.read_text().replace('"""', '"""Reworded. ', 1)
        path.write_text(f"# a new comment\n{text}\n# another one\n")


def overlay(extra: dict):
    def apply(folder: Path) -> None:
        merged = json.loads(json.dumps(OVERLAY))
        merge(merged, extra)
        (folder / "overlay.yaml").write_text(json.dumps(merged))

    return apply


def merge(into: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def touch(path: str):
    return lambda folder: os.utime(folder / path)


def add_file(folder: Path) -> None:
    shutil.copy(folder / "data/notes/part1.txt", folder / "data/notes/part2.txt")


CHANGES = [
    ("nothing", lambda folder: None),
    ("`touch` a local source file", touch("data/notes/part0.txt")),
    ("a comment and a docstring in every lib module", every_module_commented),
    (
        "an error message reworded (shards.py)",
        edit("lib/minnow/tokens/shards.py", "truncated shard:", "shard cut short:"),
    ),
    ("`params:` of tiny (documentation only)", overlay({"models": {"tiny": {"params": 2.0e6}}})),
    (
        "a plan-time module refactored (workflow/sizes.py)",
        edit(
            "lib/minnow/workflow/sizes.py",
            "    return Path(found).parent if isinstance(found, str) else None",
            "    if not isinstance(found, str):\n        return None\n    return Path(found).parent",
        ),
    ),
    (
        "the checkpoint loaders refactored (checkpoints.py)",
        edit(
            "lib/minnow/pretrained/loaders.py",
            "    _, where, kwargs = source(spec)\n    return AutoModelForCausalLM",
            "    where, kwargs = source(spec)[1:]\n    return AutoModelForCausalLM",
        ),
    ),
    (
        "the memory estimate refactored (train/memory.py)",
        edit(
            "lib/minnow/train/memory.py",
            "    if setting is None:\n        return batch_size",
            "    if not setting:\n        return batch_size",
        ),
    ),
    ("the loss plot's size (plots.py)", edit("lib/minnow/train/plots.py", "figsize=(7, 4)", "figsize=(8, 4)")),
    (
        "one more sample prompt",
        overlay({"samples": {"prompts": ["the little fish", "def read_file(path):", "The os module", "hello"]}}),
    ),
    ("the local eval set file edited", edit("data/poem.txt", "warm", "cold")),
    ("a local source file edited", edit("data/notes/part0.txt", "fish", "trout")),
    ("a file added to a local source's glob", add_file),
    (
        "a filter threshold (min_alnum_ratio 0.5 → 0.6)",
        overlay({"corpora": {"default": {"filters": {"min_alnum_ratio": 0.6}}}}),
    ),
    ("the tokenizer's vocab_size (4096 → 2048)", overlay({"tokenizers": {"bpe4k": {"vocab_size": 2048}}})),
    ("tiny's train.steps (400 → 420)", overlay({"models": {"tiny": {"train": {"steps": 420}}}})),
    ("the model's code (transformer.py init)", edit("lib/minnow/model/transformer.py", "std=0.02)", "std=0.021)")),
]


def steps_trained(folder: Path, ran: dict) -> str:
    if "train" not in ran:
        return ""
    return str(json.loads((folder / "results/tiny/train_summary.json").read_text())["steps_trained"])


def main(cores: int, keep: Path | None, first: int | None) -> None:
    folder = copy_workflow(Path(keep or tempfile.mkdtemp(prefix="minnow-reruns-")))
    write_data(folder)
    overlay({})(folder)
    full, ran = snakemake(folder, cores)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; snakemake --cores {cores}\n")
    print(f"Full build: {full:.0f} s ({sum(ran.values())} jobs)\n")
    print("| change | rules that rerun | train steps trained | seconds | share of a full build |")
    print("|---|---|---|---|---|")
    for name, apply in CHANGES[:first]:
        originals = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and _restorable(folder, p)}
        apply(folder)
        seconds, ran = snakemake(folder, cores)
        rules = ", ".join(r for r in ran if r != "all") or "nothing"
        print(f"| {name} | {rules} | {steps_trained(folder, ran)} | {seconds:.1f} | {seconds / full:.0%} |", flush=True)
        for path in {p for p in folder.joinpath("data").rglob("*") if p.is_file()} - set(originals):
            path.unlink()
        for path, content in originals.items():
            if path.read_bytes() != content:
                path.write_bytes(content)
        overlay({})(folder)
        snakemake(folder, cores)


def _restorable(folder: Path, path: Path) -> bool:
    rel = path.relative_to(folder).parts
    return rel[0] in ("lib", "data") and "__pycache__" not in rel


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="build in this folder (kept) instead of a temporary one")
    parser.add_argument("--first", type=int, help="measure only the first N changes")
    args = parser.parse_args()
    main(args.cores, args.keep, args.first)
