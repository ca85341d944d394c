"""benchmarks/gpu_check.py cannot break on its own settings: smoke-run on the CPU here (no GPU in CI)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks/gpu_check.py"


def gpu_check(chat_shards, out: Path, *args: str) -> subprocess.CompletedProcess:
    shards, tok = chat_shards
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--presets", "tiny", "--skip-dag", "--agree-steps", "3"]
    cmd += ["--shards", str(shards), "--tokenizer", str(tok), "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_short_run_gives_every_row_and_the_json(chat_shards, tmp_path):
    """3 steps: fewer than two log intervals, where the old script crashed on an empty list."""
    proc = gpu_check(chat_shards, tmp_path / "check.json", "--steps", "3")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "model built in" in proc.stdout and "first step done" in proc.stdout  # progress before the row
    out = json.loads((tmp_path / "check.json").read_text())
    tiny = out["presets"]["tiny"]
    assert tiny["tokens_per_s"] > 0 and tiny["peak_memory_mb"] > 0 and tiny["micro_batch"] == 16
    assert len(tiny["losses"]) == 3 and out["agreement"]["ok"] and out["ok"]
    assert "| tiny | 1.1M | cpu" in proc.stdout


@pytest.mark.slow
def test_a_preset_out_of_time_is_a_row_and_the_check_goes_on(chat_shards, tmp_path):
    proc = gpu_check(chat_shards, tmp_path / "check.json", "--steps", "3", "--preset-seconds", "0.5")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads((tmp_path / "check.json").read_text())
    assert "no result within 0 s" in out["presets"]["tiny"]["error"] and not out["ok"]
    assert "| tiny | failed: no result within" in proc.stdout and "did NOT pass" in proc.stdout
