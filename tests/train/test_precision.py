"""precision auto on a CPU: bf16 or fp32, whichever this machine runs the model faster, timed once and cached."""

import torch

from minnow.model.transformer import ModelConfig, Transformer
from minnow.train import precision

CPU = torch.device("cpu")
CFG = ModelConfig(vocab_size=256, d_model=32, n_layers=2, n_heads=2, n_kv_heads=2, ffn_dim=64, context=16)


def fake_timings(monkeypatch, seconds: dict) -> list:
    """Each dtype's pass takes `seconds[name]`; returns the list of dtypes timed."""
    timed = []

    def seconds_per_pass(model, x, dtype):
        name = "fp32" if dtype is None else "bf16"
        timed.append(name)
        return seconds[name]

    monkeypatch.setattr(precision, "seconds_per_pass", seconds_per_pass)
    return timed


def test_auto_takes_the_faster_dtype_and_times_each_shape_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(precision.devices, "cpu_has_bf16", lambda: True)
    model = Transformer(CFG)
    timed = fake_timings(monkeypatch, {"bf16": 2.0, "fp32": 1.0})
    dtype, probe = precision.resolve(model, 4, CPU, "auto", world=1)
    assert dtype is None and probe == {"bf16": 4 * 16 / 2.0, "fp32": 4 * 16 / 1.0}
    assert timed == ["bf16", "fp32"]
    assert precision.resolve(model, 4, CPU, "auto", world=1) == (None, probe)  # cached: nothing timed again
    assert timed == ["bf16", "fp32"]
    fake_timings(monkeypatch, {"bf16": 1.0, "fp32": 2.0})
    assert precision.resolve(model, 8, CPU, "auto", world=1)[0] == torch.bfloat16  # another shape: timed
    assert len((tmp_path / "minnow" / "precision.json").read_text()) > 0


def test_no_timing_without_bf16_hardware_across_ranks_or_for_a_stated_precision(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    timed = fake_timings(monkeypatch, {"bf16": 1.0, "fp32": 2.0})
    model = Transformer(CFG)
    monkeypatch.setattr(precision.devices, "cpu_has_bf16", lambda: False)
    assert precision.resolve(model, 4, CPU, "auto", world=1) == (None, None)
    monkeypatch.setattr(precision.devices, "cpu_has_bf16", lambda: True)
    assert precision.resolve(model, 4, CPU, "auto", world=2) == (torch.bfloat16, None)  # ranks must agree
    assert precision.resolve(model, 4, CPU, "fp32", world=1) == (None, None)
    assert precision.resolve(model, 4, CPU, "bf16", world=1) == (torch.bfloat16, None)
    assert timed == [] and not (tmp_path / "minnow").exists()


def test_timing_leaves_the_weights_the_gradients_and_the_rng_as_they_were(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    torch.manual_seed(0)
    model = Transformer(CFG).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    timings = precision.probe(model, 2)  # real passes, in both dtypes
    assert set(timings) == {"bf16", "fp32"} and min(timings.values()) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not model.training  # its mode restored
    assert torch.equal(torch.get_rng_state(), rng)
