import pytest
import torch

from minnow.errors import InputError
from minnow.export import quantize
from minnow.model.transformer import ModelConfig, Transformer


@pytest.fixture
def w():
    torch.manual_seed(0)
    return torch.randn(48, 200) * 0.05


def test_int8_error_is_at_most_half_a_step_per_row(w):
    t = quantize.quantize_int8(w)
    assert t["q"].dtype == torch.int8 and t["scale"].shape == (48,)
    err = (quantize.dequantize_int8(t) - w).abs()
    step = t["scale"].float()[:, None]
    assert (err <= step / 2 + 1e-6).all()


def test_int4_groups_error_bound_and_padding(w):
    t = quantize.quantize_int4(w)
    assert t["q"].shape == (48, 128) and t["scale"].shape == (48, 2)  # 200 columns padded to 2 groups of 128
    back = quantize.dequantize_int4(t)
    assert back.shape == w.shape
    step = t["scale"].float().repeat_interleave(128, dim=1)[:, :200]
    assert ((back - w).abs() <= step * 0.51 + 1e-6).all()


def test_int4_handles_groups_all_of_one_sign():
    w = torch.cat([torch.rand(4, 128) + 1.0, -torch.rand(4, 128) - 1.0])
    back = quantize.dequantize_int4(quantize.quantize_int4(w))
    assert (back - w).abs().max() < 2.0 / 15  # within one step of a 0..2 range


def test_nibble_packing_round_trips_every_value():
    q = torch.arange(16, dtype=torch.uint8).repeat(3, 4)  # (3, 64): every nibble value
    packed = quantize.pack_nibbles(q)
    assert packed.shape == (3, 32) and packed[0, 0] == 0x10  # 0 low, 1 high
    assert torch.equal(quantize.unpack_nibbles(packed), q)


def test_mixed_scheme_layout():
    assert quantize.method("model.embed_tokens.weight", "mixed") == "fp16"
    assert quantize.method("model.layers.0.self_attn.k_proj.weight", "mixed") == "int8"
    assert quantize.method("model.layers.0.self_attn.v_proj.weight", "mixed") == "int4-g128"
    assert quantize.method("model.layers.0.mlp.down_proj.weight", "mixed") == "int4-g128"
    assert quantize.method("model.norm.weight", "int8") == "fp16"


@pytest.mark.parametrize("scheme, bound", [("int8", 0.02), ("int4-g128", 0.25), ("mixed", 0.25)])
@pytest.mark.parametrize("tied", [True, False])
def test_quantized_models_load_and_stay_close(tmp_path, scheme, bound, tied):
    torch.manual_seed(1)
    model = Transformer(
        ModelConfig(
            vocab_size=256,
            d_model=128,
            n_layers=2,
            n_heads=4,
            n_kv_heads=2,
            ffn_dim=200,
            context=32,
            tie_embeddings=tied,
        )
    ).eval()
    path = tmp_path / f"{scheme}.safetensors"
    quantize.save_quantized(model, scheme, path)
    loaded = quantize.load_quantized(path)
    assert any(isinstance(m, quantize.QuantizedLinear) for m in loaded.modules())
    assert not any(isinstance(m, torch.nn.Linear) and m is not loaded.lm_head for m in loaded.modules())
    x = torch.randint(0, 256, (2, 32))
    with torch.no_grad():
        ref, got = model(x)[0], loaded(x)[0]
    assert ((got - ref).norm() / ref.norm()).item() < bound
    assert path.stat().st_size < 0.6 * sum(p.numel() * 4 for p in model.parameters())


def test_a_foreign_or_corrupted_export_is_refused(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(InputError, match=r"foreign\.safetensors: not a minnow quantized export"):
        quantize.load_quantized(foreign)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(InputError, match=r"broken\.safetensors: not a readable safetensors file"):
        quantize.load_quantized(broken)
