"""Checkpoints: a run continues only its own; another model's or a foreign file is refused."""

from pathlib import Path

import pytest

from minnow.errors import InputError
from minnow.model.transformer import ModelConfig
from minnow.train import checkpoint, loop, settings

from conftest import train_job
from training_runs import VOCAB, spec, train_in_process


def test_checkpoint_of_another_model_is_refused(tmp_path, chat_shards):
    first = train_in_process(tmp_path / "a", chat_shards, spec(steps=5))
    wider_spec = train_job(tmp_path / "b", *chat_shards, {**spec(steps=10), "d_model": 48, "ffn_dim": 96}).spec
    model_cfg, cfg = settings.configs(wider_spec, VOCAB)
    wider = loop.Trainer(model_cfg, cfg, *chat_shards, tmp_path / "b" / "checkpoints")
    wider.run_dir.mkdir(parents=True)
    (wider.run_dir / "last.pt").write_bytes((Path(first["checkpoints"]) / "last.pt").read_bytes())
    with pytest.raises(
        InputError, match=r"last\.pt: checkpoint is for another model \(d_model 32 → 48, ffn_dim 64 → 96\)"
    ):
        wider.run(progress=False)


def test_a_changed_run_starts_over_instead_of_continuing_a_stale_checkpoint(tmp_path, chat_shards):
    first = train_in_process(tmp_path, chat_shards, spec(steps=5))
    again = train_in_process(tmp_path, chat_shards, spec(steps=5))
    assert again["resumed"] and again["checkpoints"] == first["checkpoints"] and again["steps_trained"] == 0
    changed = train_in_process(tmp_path, chat_shards, spec(steps=5, seed=7))
    assert not changed["resumed"] and changed["checkpoints"] != first["checkpoints"] and changed["steps_trained"] == 5
    assert (Path(first["checkpoints"]) / "last.pt").exists()  # the earlier run's checkpoints are kept


def test_foreign_checkpoint_file_is_refused(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint at all")
    cfg = ModelConfig(vocab_size=64, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=32, context=8)
    with pytest.raises(InputError, match=r"last\.pt: not a readable minnow checkpoint"):
        checkpoint.load_checkpoint(bad, cfg)
