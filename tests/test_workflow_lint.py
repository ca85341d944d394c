"""The Snakefiles stay lint-clean (`snakemake --lint`) and snakefmt-formatted, and the Python
sources pass `ruff check` and `ruff format --check` (config in pyproject.toml): CI runs all of them here."""

import re
import subprocess

from conftest import BIN, REPO

SNAKEFILES = ["Snakefile", "rules"]
# Every job runs in the one environment Snakemake itself runs in (the venv of `make setup`, or
# the conda environment created from environment.yml): per-rule environments would each hold
# their own torch, and a job must import the workflow's own minnow. docs/CLUSTERS.md, "On a SLURM cluster".
ACCEPTED = {"Specify a conda environment or container for each rule."}


def test_snakemake_lint_finds_nothing_but_the_one_environment_choice():
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    lints = set(re.findall(r"^\s+\* (.+?):?$", output, flags=re.MULTILINE))
    assert lints <= ACCEPTED, f"snakemake --lint found problems:\n{output[-4000:]}"
    assert "Lints for rule" in output or "Congratulations" in output, output[-4000:]


def test_snakefiles_are_snakefmt_formatted():
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "--diff", *SNAKEFILES], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"run `snakefmt Snakefile rules/`:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"


def test_python_sources_pass_ruff_lint_and_format():
    ruff = str(BIN / "ruff")  # the venv's, beside sys.executable
    for args, fix in ((["check", "--output-format", "concise"], "ruff check"), (["format", "--check"], "ruff format")):
        proc = subprocess.run([ruff, *args, "."], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"run `{fix} .`:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
