"""The Snakefiles stay lint-clean (`snakemake --lint`) and snakefmt-formatted: CI runs both here."""

import subprocess

from conftest import BIN, REPO

SNAKEFILES = ["Snakefile", "rules"]


def test_snakemake_lint_is_clean():
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"snakemake --lint found problems:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
    assert "Congratulations" in proc.stdout + proc.stderr


def test_snakefiles_are_snakefmt_formatted():
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "--diff", *SNAKEFILES], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"run `snakefmt Snakefile rules/`:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
