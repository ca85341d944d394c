"""Importing a checkpoint from outside minnow: its weights become a minnow model folder that
gives transformers' logits, and a checkpoint minnow cannot start from stops, naming it."""

import pytest
import torch

from minnow.errors import InputError
from minnow.model import model_folder
from minnow.pretrained import tokenizer as pretrained_tokenizer
from minnow.pretrained.init_import import checkpoint_model_config, convert, import_checkpoint
from minnow.tokens import tokenizer

from hf_checkpoints import gpt2_folder, llama_folder


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    return llama_folder(tmp_path_factory.mktemp("hf") / "tiny-llama")


def saved_tokenizer(spec: dict, folder):
    tok, config = pretrained_tokenizer.load(spec)
    return tokenizer.save(tok, folder, config)


def test_an_hf_checkpoint_becomes_a_model_folder_with_its_logits(hf_model, tmp_path):
    from transformers import AutoModelForCausalLM

    spec = {"hf": str(hf_model), "revision": None}
    about = import_checkpoint(spec, saved_tokenizer(spec, tmp_path / "tok"), tmp_path / "out", {}, "m")
    assert about["d_model"] == 64 and about["n_kv_heads"] == 2 and about["context"] == 128
    ours = model_folder.load_model(tmp_path / "out")
    theirs = AutoModelForCausalLM.from_pretrained(hf_model, dtype=torch.float32).eval()
    ids = torch.tensor([[3, 17, 9, 30, 12, 5, 8]])
    with torch.no_grad():
        assert torch.allclose(ours(ids)[0], theirs(ids).logits, atol=1e-5)
    assert model_folder.display_name(tmp_path / "out") == "tiny-llama"
    text = "hi, little fish! what's new?"
    kept, original = (tokenizer.load(f / "tokenizer.json") for f in (tmp_path / "out", hf_model))
    assert kept.encode(text, add_special_tokens=False).ids == original.encode(text, add_special_tokens=False).ids


def test_stated_shape_keys_must_agree_and_context_may_only_shrink(hf_model, tmp_path):
    spec = {"hf": str(hf_model)}
    tok = saved_tokenizer(spec, tmp_path / "tok")
    about = import_checkpoint(spec, tok, tmp_path / "ok", {"d_model": 64, "context": 64}, "m")  # a shorter window
    assert (about["d_model"], about["context"]) == (64, 128)  # the folder keeps the checkpoint's own context
    assert model_folder.load_model(tmp_path / "ok").cfg.context == 128
    with pytest.raises(InputError) as err:
        import_checkpoint(spec, tok, tmp_path / "out", {"d_model": 128, "n_layers": 2, "context": 512}, "m")
    assert f"models.m.d_model: 128 disagrees with its init checkpoint's 64 ({hf_model})" in str(err.value)
    assert "models.m.context: 512 is past its init checkpoint's 128" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_checkpoint_that_is_missing_or_not_llama_stops_naming_it(tmp_path):
    gpt2 = gpt2_folder(tmp_path / "gpt2")
    tok = tokenizer.save(tokenizer.char_tokenizer(["a"]), tmp_path / "tok")
    with pytest.raises(InputError, match=rf"{gpt2}: not a Llama-architecture checkpoint \(model_type 'gpt2'\)"):
        import_checkpoint({"hf": str(gpt2)}, tok, tmp_path / "out", {}, "m")
    with pytest.raises(InputError, match=r"missing\.gguf: no such GGUF file"):
        import_checkpoint({"gguf_path": str(tmp_path / "missing.gguf")}, tok, tmp_path / "out", {}, "m")
    with pytest.raises(InputError, match=rf"{tmp_path / 'nowhere'}: the init checkpoint cannot be loaded"):
        import_checkpoint({"hf": str(tmp_path / "nowhere")}, tok, tmp_path / "out", {}, "m")
    assert not (tmp_path / "out").exists()


def test_a_llama_with_what_minnow_lacks_is_refused(tmp_path):
    biased = llama_folder(tmp_path / "biased", attention_bias=True)
    tok = tokenizer.save(tokenizer.char_tokenizer(["a"]), tmp_path / "tok")
    with pytest.raises(InputError, match="minnow's Llama has no attention biases"):
        import_checkpoint({"hf": str(biased)}, tok, tmp_path / "out", {}, "m")


LLAMA3_SCALING = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32,
}


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_parameters": {"rope_theta": 10000.0, **LLAMA3_SCALING}},  # transformers 5
        {"rope_theta": 10000.0, "rope_scaling": LLAMA3_SCALING},  # transformers 4
        {"rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 2.0}},  # transformers 4, older key
    ],
    ids=["rope_parameters", "rope_scaling", "rope_scaling-type"],
)
def test_rope_scaling_is_refused_under_either_transformers_name(rope):
    from types import SimpleNamespace

    shape = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    shape |= {"num_key_value_heads": 2, "max_position_embeddings": 128, "vocab_size": 320}
    shape |= {"rms_norm_eps": 1e-6, "tie_word_embeddings": True}
    hf = SimpleNamespace(model_type="llama", **shape, **rope)  # a config as either transformers reads it
    with pytest.raises(InputError, match=r"here: minnow's Llama has no RoPE scaling \((llama3|linear)\)"):
        checkpoint_model_config(hf, "here")
    plain = {"rope_theta": 500000.0, "rope_scaling": None} if "rope_scaling" in rope else {"rope_parameters": None}
    assert checkpoint_model_config(SimpleNamespace(model_type="llama", **shape, **plain), "here").rope_theta == (
        500000.0 if "rope_scaling" in rope else 10000.0
    )


def test_a_rope_scaling_the_config_does_not_name_is_caught_across_the_context(tmp_path):
    """Llama 3's scaling stretches the long wavelengths, which a probe of a few tokens may not
    see. Here attention adds nothing to the logits (its output projection zeroed), so the logit
    probe cannot tell the scaling; the RoPE angles compared over the whole context do."""
    scaled = load_llama(llama_folder(tmp_path / "scaled", rope_scaling=LLAMA3_SCALING))
    plain = load_llama(llama_folder(tmp_path / "plain"))
    for model in (scaled, plain):
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.data.zero_()
    convert(plain, checkpoint_model_config(plain.config, "plain"), "plain")  # the same angles pass
    with pytest.raises(InputError, match=r"scaled: the checkpoint's rotary angles differ from minnow's RoPE by"):
        convert(scaled, checkpoint_model_config(plain.config, "plain"), "scaled")


def test_logits_that_differ_from_the_checkpoints_stop_the_import(tmp_path):
    """A Llama whose MLP is not SwiGLU (GELU here) passes the config's checks but not the logits'."""
    gelu = llama_folder(tmp_path / "gelu", hidden_act="gelu")
    tok = tokenizer.save(tokenizer.char_tokenizer(["a"]), tmp_path / "tok")
    with pytest.raises(InputError, match=r"gelu: the converted model's logits differ from the checkpoint's by"):
        import_checkpoint({"hf": str(gelu)}, tok, tmp_path / "out", {}, "m")
    assert not (tmp_path / "out").exists()


def test_a_tokenizer_larger_than_the_checkpoints_embedding_is_refused(hf_model, tmp_path):
    big = tokenizer.save(tokenizer.char_tokenizer([chr(0x4E00 + i) for i in range(200)]), tmp_path / "tok")
    with pytest.raises(InputError, match=r"tokenizer.json: 463 tokens, the checkpoint embeds 320"):
        import_checkpoint({"hf": str(hf_model)}, big, tmp_path / "out", {}, "m")


def load_llama(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
