import json
import math

import pytest
import torch

from minnow.eval import llama_cpp_scoring
from minnow.export import stage
from minnow.model.model_folder import load_model
from minnow.tokens import tokenizer

from conftest import special_ids


@pytest.fixture(scope="module")
def exported(model_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    documents = out / "val.jsonl"
    documents.write_text(json.dumps({"text": "hi guppy! what do you eat?\nflakes and bloodworms, blub.\n" * 20}) + "\n")
    report = stage.export(model_folder, documents, out, ["f16"], {"stride_fraction": 0.5})
    return report, out


def test_quant_report_has_real_sizes_and_measured_deltas(exported):
    report, out = exported
    fp32 = report["fp32"]
    assert fp32["bytes"] > 0 and math.isfinite(fp32["bits_per_byte"])
    s = report["schemes"]
    assert set(s) == {"int8", "int4-g128", "mixed"}
    assert s["int8"]["bytes"] < fp32["bytes"] / 2  # (int4's groups of 128 pad this 32-wide test model's rows 4x)
    assert s["int8"]["compression_vs_fp32"] == pytest.approx(fp32["bytes"] / s["int8"]["bytes"])
    assert abs(s["int8"]["delta_bits_per_byte"]) < abs(s["int4-g128"]["delta_bits_per_byte"]) + 0.05
    assert all(math.isfinite(v["delta_token_perplexity"]) for v in s.values())
    assert (out / "model-f16.gguf").stat().st_size == report["gguf"]["f16"]["bytes"]


def test_each_gguf_is_scored_by_llama_cpp_where_it_is_installed(exported):
    report, _ = exported
    scored = report["gguf"]["f16"]["llama_cpp"]
    if llama_cpp_scoring.version() is None:
        assert scored == {"skipped": llama_cpp_scoring.NOT_INSTALLED}
    else:  # f16 weights, llama.cpp's kernels and f16 KV cache: the same loss to a thousandth of a bit
        assert scored["bits_per_byte"] == pytest.approx(report["fp32"]["bits_per_byte"], abs=1e-3)
        assert scored["delta_bits_per_byte"] == scored["bits_per_byte"] - report["fp32"]["bits_per_byte"]


def test_without_llama_cpp_quant_json_says_why_each_gguf_is_unscored(model_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(llama_cpp_scoring, "version", lambda: None)
    text = tmp_path / "val.jsonl"
    text.write_text('{"text": "blub. blub."}\n')
    tok = tokenizer.load(model_folder / "tokenizer.json")
    entry = stage.gguf_file(
        model_folder,
        tmp_path / "m.gguf",
        "q4_0",
        tok,
        special_ids(tok)["eos"],
        text,
        {"context": 64, "windows": {"stride_fraction": 0.5}, "threads": 1},
        {"bits_per_byte": 1.0},
    )
    assert entry["llama_cpp"] == {"skipped": "llama-cpp-python is not installed (tools/install_llama_cpp.sh builds it)"}
    assert entry["file"] == "m.gguf" and entry["bytes"] == (tmp_path / "m.gguf").stat().st_size


def test_hugging_face_folder_loads_with_no_custom_code_and_equal_logits(exported, model_folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = exported
    hf = AutoModelForCausalLM.from_pretrained(out / "hf").eval()
    hf_tok = AutoTokenizer.from_pretrained(out / "hf")
    ours = load_model(model_folder)
    text = "hi guppy! what do you eat?"
    ids = tokenizer.load(model_folder / "tokenizer.json").encode(text, add_special_tokens=False).ids
    assert hf_tok(text, add_special_tokens=False)["input_ids"] == ids
    x = torch.tensor([ids])
    with torch.no_grad():
        assert torch.allclose(ours(x)[0], hf(x).logits, atol=1e-4)
    rendered = hf_tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|user|>hi<|end|><|assistant|>"
    generation = json.loads((out / "hf" / "generation_config.json").read_text())
    assert special_ids(tokenizer.load(model_folder / "tokenizer.json"))["end"] in generation["eos_token_id"]
