import math
from pathlib import Path

import pytest
import torch
import yaml

from minnow.model.transformer import KVCache, ModelConfig, Transformer, rope_tables

REPO = Path(__file__).resolve().parents[2]
SMALL = ModelConfig(vocab_size=97, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=96, context=32)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return Transformer(SMALL).eval()


def test_shapes_and_loss(model):
    idx, targets = torch.randint(0, 97, (3, 20)), torch.randint(0, 97, (3, 20))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 20, 97) and loss.ndim == 0
    assert loss.item() == pytest.approx(math.log(97), rel=0.1)  # small init: near-uniform predictions


def test_ignored_targets_do_not_count(model):
    idx = torch.randint(0, 97, (2, 10))
    targets = idx.clone()
    targets[:, :5] = -100
    _, masked = model(idx, targets)
    logits, _ = model(idx)
    direct = torch.nn.functional.cross_entropy(logits[:, 5:].reshape(-1, 97), idx[:, 5:].reshape(-1))
    assert masked.item() == pytest.approx(direct.item(), rel=1e-5)


def test_a_future_token_never_changes_a_past_logit(model):
    idx = torch.randint(0, 97, (1, 24))
    changed = idx.clone()
    changed[0, 15:] = (changed[0, 15:] + 1) % 97
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.equal(a[0, :15], b[0, :15])
    assert not torch.allclose(a[0, 15:], b[0, 15:])


def test_kv_cache_decoding_equals_the_full_forward(model):
    idx = torch.randint(0, 97, (2, 20))
    full, _ = model(idx)
    cache = KVCache(SMALL, batch=2, max_len=32)
    parts = [model(idx[:, :7], cache=cache)[0]]  # prefill
    parts += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(7, 12)]  # one token at a time
    parts.append(model(idx[:, 12:], cache=cache)[0])  # a chunk after the cache
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


def test_gqa_shares_key_value_heads_and_the_head_is_tied(model):
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (64, 64) and attn.k_proj.weight.shape == (32, 64)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    untied = Transformer(ModelConfig(**{**SMALL.to_dict(), "tie_embeddings": False}))
    assert untied.num_params() == model.num_params() + 97 * 64


def test_rope_matches_a_direct_rotation_of_pairs():
    cos, sin = rope_tables(SMALL)
    half = SMALL.head_dim // 2
    x = torch.randn(SMALL.head_dim)
    from minnow.model.transformer import apply_rope

    for pos in (0, 1, 7, 31):
        rotated = apply_rope(x.view(1, 1, 1, -1), cos[pos : pos + 1], sin[pos : pos + 1]).flatten()
        for i in range(half):
            theta = pos * SMALL.rope_theta ** (-2 * i / SMALL.head_dim)
            pair = complex(x[i], x[i + half]) * complex(math.cos(theta), math.sin(theta))
            assert rotated[i].item() == pytest.approx(pair.real, abs=1e-5)
            assert rotated[i + half].item() == pytest.approx(pair.imag, abs=1e-5)


def test_logits_equal_hugging_face_llama_with_the_same_weights(model):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=97,
            hidden_size=64,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=32,
            rope_theta=10000.0,
            rms_norm_eps=1e-5,
            tie_word_embeddings=True,
        )
    ).eval()
    result = hf.load_state_dict(model.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    idx = torch.randint(0, 97, (2, 32))
    with torch.no_grad():
        assert torch.allclose(model(idx)[0], hf(idx).logits, atol=1e-5)


def test_depth_scaled_init_shrinks_residual_projections():
    torch.manual_seed(0)
    deep = Transformer(ModelConfig(**{**SMALL.to_dict(), "n_layers": 8, "d_model": 128, "ffn_dim": 256}))
    o_std = deep.model.layers[0].self_attn.o_proj.weight.std().item()
    q_std = deep.model.layers[0].self_attn.q_proj.weight.std().item()
    assert q_std == pytest.approx(0.02, rel=0.05) and o_std == pytest.approx(0.02 / 4, rel=0.05)


def preset_models():
    """Presets that state their size (a fine-tune is its init model's size)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return [
        (name, spec, config["tokenizers"][spec["tokenizer"]]["vocab_size"])
        for name, spec in config["models"].items()
        if "params" in spec
    ]


@pytest.mark.parametrize("name, spec, vocab", preset_models(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_preset_has_its_stated_size(name, spec, vocab):
    from minnow.model.param_count import embedding_rows
    from minnow.train.settings import preset_model_config

    model_cfg = preset_model_config(spec, embedding_rows(vocab))
    with torch.device("meta"):
        params = Transformer(model_cfg).num_params()
    assert params == pytest.approx(float(spec["params"]), rel=0.10), f"{name}: {params / 1e6:.1f}M"


def test_presets_span_1m_to_1_5b():
    sizes = {name: float(spec["params"]) for name, spec, _ in preset_models()}
    assert sizes["tiny"] == 1e6 and sizes["large"] == 1.5e9 and {"guppy", "small", "medium"} <= set(sizes)


def test_the_shape_keys_are_the_model_configs_fields_and_count_its_weights():
    from dataclasses import fields

    from minnow.model.param_count import parameters
    from minnow.train.settings import SHAPE_KEYS

    assert [f.name for f in fields(ModelConfig)] == ["vocab_size", *SHAPE_KEYS]
    for tie in (True, False):
        cfg = ModelConfig(vocab_size=320, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=96, context=32)
        cfg = ModelConfig(**{**cfg.to_dict(), "tie_embeddings": tie})
        assert parameters(cfg.vocab_size, cfg.to_dict()) == Transformer(cfg).num_params()
