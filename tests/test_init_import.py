"""Importing a checkpoint from outside minnow: its weights become a minnow model folder that
gives transformers' logits, and a checkpoint minnow cannot start from stops, naming it."""

import pytest
import torch

from minnow import model_folder, tokenizer
from minnow.errors import InputError
from minnow.init_import import import_checkpoint

from hf_checkpoints import gpt2_folder, llama_folder


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    return llama_folder(tmp_path_factory.mktemp("hf") / "tiny-llama")


def pretrained_tokenizer(spec: dict, folder):
    tok, config = tokenizer.pretrained(spec)
    return tokenizer.save(tok, folder, config)


def test_an_hf_checkpoint_becomes_a_model_folder_with_its_logits(hf_model, tmp_path):
    from transformers import AutoModelForCausalLM

    spec = {"hf": str(hf_model), "revision": None}
    about = import_checkpoint(spec, pretrained_tokenizer(spec, tmp_path / "tok"), tmp_path / "out", {}, "m")
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
    tok = pretrained_tokenizer(spec, tmp_path / "tok")
    import_checkpoint(spec, tok, tmp_path / "ok", {"d_model": 64, "context": 64}, "m")  # a shorter window is fine
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
