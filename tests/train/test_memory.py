"""Memory: the step estimate, presets that fit the cards they name, micro_batch auto under a faked
budget, and the two memory levers (splitting the batch, activation checkpointing) leaving the curve alone."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from minnow.errors import InputError
from minnow.model.param_count import embedding_rows
from minnow.model.transformer import ModelConfig, Transformer
from minnow.train import memory
from minnow.train.settings import TrainConfig
from minnow.workflow.config import with_defaults

from training_runs import spec, train_in_process

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/config.yaml").read_text())
GIB = 2**30


def preset_shape(name: str) -> tuple[ModelConfig, dict]:
    preset = with_defaults("model", CONFIG["models"][name])
    vocab = embedding_rows(CONFIG["tokenizers"][preset["tokenizer"]]["vocab_size"])
    keys = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "context")
    return ModelConfig(vocab_size=vocab, **{k: preset[k] for k in keys}), preset


@pytest.mark.parametrize("tied", [True, False])
def test_the_parameter_count_is_the_models(tied):
    cfg = ModelConfig(vocab_size=1000, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=96, context=32,
                      tie_embeddings=tied)  # fmt: skip
    with torch.device("meta"):
        assert memory.parameters(cfg) == Transformer(cfg).num_params()


def test_the_estimate_is_at_or_above_the_peaks_measured_on_an_h200():
    """bf16 + compile, torch.cuda.max_memory_allocated: small 6.9 GB at 32 x 512, medium 25.4 GB at
    16 x 1024 (read as GiB, the larger reading); the estimate may be high, never low, by at most 30%."""
    for name, rows, measured in (("small", 32, 6.9), ("medium", 16, 25.4)):
        estimate = memory.step_bytes(preset_shape(name)[0], rows) / GIB
        assert measured <= estimate <= 1.3 * measured, (name, estimate)


@pytest.mark.parametrize("name", [n for n, m in CONFIG["models"].items() if m.get("gpu_memory_gb")])
def test_each_preset_is_sized_for_the_card_it_names(name):
    """A preset with a fixed micro-batch fits its card as configured; one with micro_batch auto
    (which always finds a split that fits, if any does) needs at most two forwards per rank's
    batch_size there: a preset outgrowing its card fails here, not by a slower split."""
    cfg, preset = preset_shape(name)
    t = preset["train"]
    budget = int(preset["gpu_memory_gb"] * GIB * memory.USABLE_FRACTION)
    checkpointing = t["activation_checkpointing"]
    if t["micro_batch"] == "auto":
        rows = memory.fit_micro_batch(cfg, t["batch_size"] * t["grad_accum"], budget, checkpointing)
        assert rows >= t["batch_size"] // 2, rows
    else:
        assert memory.step_bytes(cfg, t["micro_batch"] or t["batch_size"], checkpointing) <= budget


def test_medium_splits_its_batch_on_a_24_gb_card_and_not_on_an_80_gb_one():
    cfg, preset = preset_shape("medium")
    t = preset["train"]
    on_24 = memory.fit_micro_batch(cfg, t["batch_size"] * t["grad_accum"], int(24 * GIB * 0.9))
    on_80 = memory.fit_micro_batch(cfg, t["batch_size"] * t["grad_accum"], int(80 * GIB * 0.9))
    assert on_24 < t["batch_size"] <= on_80  # its 16-row micro-batch peaked at 25.4 GB: over a 24 GB card


def test_fit_takes_the_largest_divisor_that_fits_and_says_what_to_change_when_none_does():
    cfg = ModelConfig(vocab_size=512, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=128, context=64)
    budget = memory.step_bytes(cfg, 5)  # 5 does not divide 12: the next divisor down is 4
    assert memory.fit_micro_batch(cfg, 12, budget) == 4
    assert memory.fit_micro_batch(cfg, 12, memory.step_bytes(cfg, 12)) == 12
    assert memory.step_bytes(cfg, 4, checkpointing=True) < memory.step_bytes(cfg, 4)
    with pytest.raises(InputError, match="activation_checkpointing"):
        memory.fit_micro_batch(cfg, 12, memory.step_bytes(cfg, 1) - 1)


def test_micro_batch_settings():
    never = lambda rows: pytest.fail("no fit wanted")  # noqa: E731
    train = TrainConfig(
        **with_defaults("model", CONFIG["models"]["tiny"])["train"] | {"batch_size": 8, "grad_accum": 4}
    )
    assert memory.micro_batch(replace(train, micro_batch=None), never) == 8
    assert memory.micro_batch(replace(train, micro_batch=16), never) == 16
    auto = replace(train, micro_batch="auto")
    assert memory.micro_batch(auto, lambda rows: None) == 8  # no budget known (CPU): batch_size
    assert memory.micro_batch(auto, lambda rows: rows) == 32  # handed a rank's rows
    with pytest.raises(InputError, match=r"micro_batch: 3 does not divide a rank's batch .* 8 x 4 = 32"):
        memory.micro_batch(replace(train, micro_batch=3), never)


def test_fsdp_gathers_two_blocks_and_the_root_unit_in_the_runs_dtype():
    cfg = ModelConfig(vocab_size=1024, d_model=64, n_layers=4, n_heads=4, n_kv_heads=4, ffn_dim=128, context=32)
    root = 1024 * 64 + 64  # tied embedding and head, final norm
    block = (Transformer(cfg).num_params() - root) // 4
    assert memory.gathered_bytes(cfg, 1, 4) == 0  # one rank holds everything whole already
    assert memory.gathered_bytes(cfg, 8, 4) == 4 * (2 * block + root)
    assert memory.gathered_bytes(cfg, 8, 2) == memory.gathered_bytes(cfg, 8, 4) // 2  # a bf16 run gathers in bf16


def curve(result: dict) -> np.ndarray:
    return np.array([loss for _, loss in result["history"]["train"] + result["history"]["val"]])


@pytest.mark.parametrize("loss_on", ["all", "answers"])
def test_auto_splits_the_batch_under_a_faked_budget_and_the_curve_stays(tmp_path, chat_shards, monkeypatch, loss_on):
    settings = {"steps": 12, "batch_size": 8, "grad_accum": 2, "eval_every": 6, "precision": "fp32", "loss_on": loss_on}
    whole = train_in_process(tmp_path / "whole", chat_shards, spec(**settings))
    cfg = ModelConfig(vocab_size=512, **{k: spec()[k] for k in ("d_model", "n_layers", "n_heads", "n_kv_heads",
                                                                "ffn_dim", "context")})  # fmt: skip
    monkeypatch.setattr(memory, "budget_bytes", lambda device: memory.step_bytes(cfg, 4))
    split = train_in_process(tmp_path / "split", chat_shards, spec(**settings, micro_batch="auto"))
    assert (split["micro_batch"], split["forwards_per_step"]) == (4, 4)
    assert (whole["micro_batch"], whole["forwards_per_step"]) == (8, 2)
    np.testing.assert_allclose(curve(split), curve(whole), rtol=0, atol=1e-5)


def test_activation_checkpointing_leaves_the_curve_equal(tmp_path, chat_shards):
    settings = {"steps": 12, "eval_every": 6, "precision": "fp32"}
    plain = train_in_process(tmp_path / "plain", chat_shards, spec(**settings))
    recomputed = train_in_process(tmp_path / "ckpt", chat_shards, spec(**settings, activation_checkpointing=True))
    assert recomputed["activation_checkpointing"] and not plain["activation_checkpointing"]
    np.testing.assert_allclose(curve(recomputed), curve(plain), rtol=0, atol=1e-5)
    assert recomputed["peak_memory_mb"] > 0 and recomputed["peak_memory_kind"] == "process_max_rss"


def saved_for_backward(model, ids: torch.Tensor) -> int:
    """Bytes of the tensors a training forward keeps for its backward pass: the activations
    that activation checkpointing trades for recomputation."""
    saved = 0

    def pack(tensor):
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        _, loss = model(ids[:, :-1], ids[:, 1:])
    loss.backward()
    return saved


def test_activation_checkpointing_recomputes_each_block_and_keeps_a_fraction_of_the_activations(monkeypatch):
    from minnow.model import transformer as model_module

    cfg = ModelConfig(vocab_size=512, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=192, context=64)
    torch.manual_seed(0)
    model, ids = Transformer(cfg).train(), torch.randint(0, 512, (4, 65))
    calls = []
    real = model_module.checkpoint
    monkeypatch.setattr(model_module, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    kept = saved_for_backward(model, ids)
    assert not calls
    model.checkpointing = True
    recomputed = saved_for_backward(model, ids)
    assert len(calls) == cfg.n_layers
    assert recomputed < kept / 3, (recomputed, kept)  # the blocks' inputs only, and the head's logits


def test_fsdp_shards_the_state_so_large_fits_a_24_gb_card_on_eight_ranks():
    """1.5B: 16 bytes of state per weight is 24 GB, over a 24 GB card before any activation;
    sharded over 8 ranks it is 3 GB a rank, and micro_batch auto finds a split that fits."""
    cfg, preset = preset_shape("large")
    t = preset["train"]
    budget, rank_rows = int(24 * GIB * memory.USABLE_FRACTION), t["batch_size"] * t["grad_accum"]
    checkpointing = t["activation_checkpointing"]
    with pytest.raises(InputError, match="train.parallel: fsdp"):
        memory.fit_micro_batch(cfg, rank_rows, budget, checkpointing)
    rows = memory.fit_micro_batch(cfg, rank_rows, budget, checkpointing, shards=8)
    assert memory.step_bytes(cfg, rows, checkpointing, shards=8) <= budget
    state_per_rank = memory.step_bytes(cfg, 0, shards=8) / GIB
    gathered = memory.gathered_bytes(cfg, 8, 4) / GIB
    assert 0.3 < gathered < 0.9  # two blocks and the root unit (embedding, head) in fp32
    assert 2.8 < state_per_rank - gathered < 3.0  # 1.5B x 16 bytes / 8
