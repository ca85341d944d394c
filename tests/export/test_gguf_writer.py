"""GGUF export: a minnow model read back by transformers' GGUF loader computes the
same logits and tokenizes text the same way; broken files are refused clearly."""

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from minnow.errors import InputError
from minnow.export.gguf_writer import DTYPES, permute_for_llama_cpp, read_gguf_check, write_gguf
from minnow.model import model_folder
from minnow.model.transformer import ModelConfig, Transformer
from minnow.tokens import chat_layout, tokenizer

from conftest import special_ids

TEXTS = [
    "the guppy swims past the castle and eats three flakes.",
    "def add(a, b):\n    return a + b\n",
    "小鱼在水里游泳，它很开心。你好，世界！",
    "emoji 🐟🫧 and accents: café, naïve, Ærø",
]
# max |logit difference| allowed, relative to the largest |logit|, and the least cosine similarity;
# measured on these random models: f32 exact, f16 ~1e-3, q8_0 2-4e-2 (cosine >= 0.9997), 5-bit 0.14-0.20
# (>= 0.990), 4-bit 0.27-0.47 (>= 0.957); a layout or permutation bug is far outside all of them
BOUNDS = {
    "f32": (1e-5, 0.999999),
    "f16": (1e-2, 0.99999),
    "q8_0": (0.1, 0.999),
    "q5_1": (0.3, 0.985),
    "q5_0": (0.3, 0.985),
    "q4_1": (0.65, 0.95),
    "q4_0": (0.65, 0.95),
}


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TEXTS * 200]), folder / "train.parquet")
    tokenizer.save(tokenizer.train([folder / "train.parquet"], vocab_size=400), folder)
    return folder


def make_model(folder, tok_dir, tie: bool = True, ffn_dim: int = 128, seed: int = 0) -> Transformer:
    """A random (untrained) model saved as a model folder with its tokenizer."""
    tok = tokenizer.load(tok_dir / "tokenizer.json")
    vocab = -(-tok.get_vocab_size() // 64) * 64  # more embedding rows than tokens, as training rounds up
    torch.manual_seed(seed)
    model = Transformer(
        ModelConfig(
            vocab_size=vocab,
            d_model=64,
            n_layers=2,
            n_heads=4,
            n_kv_heads=2,
            ffn_dim=ffn_dim,
            context=64,
            tie_embeddings=tie,
        )
    )
    with torch.no_grad():  # wider than the init, so logits spread well beyond rounding error
        for p in model.parameters():
            p.normal_(1.0, 0.2) if p.ndim == 1 else p.normal_(0.0, 0.1)
    model_folder.save_model(model, folder / "model.safetensors", folder / "config.json", special_ids(tok))
    tokenizer.copy_files(tok_dir / "tokenizer.json", folder)
    return model.eval()


@pytest.fixture(scope="module")
def tied(tmp_path_factory, tok_dir):
    folder = tmp_path_factory.mktemp("tied") / "fish"
    folder.mkdir()
    return folder, make_model(folder, tok_dir)


def export(folder, tmp_path, dtype):
    """Write the GGUF alone in its own folder, so transformers cannot fall back on the
    model folder's config.json or tokenizer.json."""
    out = tmp_path / dtype / "fish.gguf"
    return out, write_gguf(folder, out, dtype)


def hf_logits(out, ids):
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(str(out.parent), gguf_file=out.name)(ids).logits


def assert_logits_close(model, out, dtype):
    ids = torch.randint(0, model.cfg.vocab_size, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(ids)[0]
    got = hf_logits(out, ids)
    rel, cos = BOUNDS[dtype]
    assert (got - ref).abs().max() <= rel * ref.abs().max()
    assert torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0) >= cos


def fields(out) -> tuple[dict, dict]:
    """A GGUF's metadata values and its tensors, by name."""
    import gguf

    reader = gguf.GGUFReader(out)
    return {k: f.contents() for k, f in reader.fields.items()}, {t.name: t for t in reader.tensors}


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_transformers_computes_minnows_logits_from_the_gguf(tied, tmp_path, dtype):
    from gguf import GGMLQuantizationType as T

    folder, model = tied
    out, info = export(folder, tmp_path, dtype)
    kept = {"token_embd.weight": "Q8_0"} if dtype[1] in "45" else {}  # the tied output matrix stays 8-bit
    assert info == {
        "path": str(out),
        "bytes": out.stat().st_size,
        "dtype": dtype,
        "tensors": 2 + 9 * 2,
        "fallbacks": {},
        "kept_8bit": kept,
    }
    assert sorted(p.name for p in out.parent.iterdir()) == ["fish.gguf"]  # no temporary file left behind
    file_type = "ALL_F32" if dtype == "f32" else f"MOSTLY_{dtype.upper()}"
    assert read_gguf_check(out) == {"architecture": "llama", "name": "fish", "tensors": 20, "file_type": file_type}
    _, tensors = fields(out)
    assert tensors["blk.1.ffn_down.weight"].tensor_type == T[dtype.upper()]
    assert tensors["token_embd.weight"].tensor_type == T[kept.get("token_embd.weight", dtype.upper())]
    assert_logits_close(model, out, dtype)


def test_metadata_and_tensors_are_what_llama_cpp_reads(tied, tmp_path):
    from gguf import GGMLQuantizationType as T
    from gguf import TokenType

    folder, model = tied
    cfg, tok = model.cfg, tokenizer.load(folder / "tokenizer.json")
    out, _ = export(folder, tmp_path, "q8_0")
    meta, tensors = fields(out)
    expected = {
        "context_length": 64,
        "embedding_length": 64,
        "block_count": 2,
        "feed_forward_length": 128,
        "attention.head_count": 4,
        "attention.head_count_kv": 2,
        "rope.dimension_count": 16,
        "vocab_size": 448,
    }
    assert {k: meta[f"llama.{k}"] for k in expected} == expected
    assert meta["llama.rope.freq_base"] == cfg.rope_theta
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(cfg.norm_eps)
    kinds = ("general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.pre")
    assert [meta[k] for k in kinds] == ["llama", "gpt2", "gpt-2"]
    n = tok.get_vocab_size()
    assert meta["tokenizer.ggml.tokens"][:n] == [tok.id_to_token(i) for i in range(n)]
    assert meta["tokenizer.ggml.tokens"][n:] == [f"[PAD{i}]" for i in range(n, 448)]
    types = meta["tokenizer.ggml.token_type"]
    specials = set(special_ids(tok).values())
    assert [i for i, t in enumerate(types) if t == TokenType.CONTROL] == sorted(specials)
    assert set(types[:n]) == {TokenType.CONTROL, TokenType.NORMAL} and set(types[n:]) == {TokenType.UNUSED}
    merges = json.loads((folder / "tokenizer.json").read_text())["model"]["merges"]
    assert meta["tokenizer.ggml.merges"] == [" ".join(m) for m in merges]
    for name, key in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("pad", "padding_token_id")):
        assert meta[f"tokenizer.ggml.{key}"] == special_ids(tok)[name]
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert meta["tokenizer.chat_template"] == tokenizer.CHAT_TEMPLATE
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd
    for name, t in tensors.items():
        assert t.tensor_type == (T.F32 if name.endswith("norm.weight") else T.Q8_0), name
    # q/k rows are stored permuted for llama.cpp's RoPE; v and the rest as they are
    out32, _ = export(folder, tmp_path, "f32")
    _, tensors = fields(out32)
    q, k, v = (getattr(model.model.layers[1].self_attn, f"{x}_proj").weight.detach().numpy() for x in "qkv")
    np.testing.assert_array_equal(tensors["blk.1.attn_q.weight"].data, permute_for_llama_cpp(q, 4))
    np.testing.assert_array_equal(tensors["blk.1.attn_k.weight"].data, permute_for_llama_cpp(k, 2))
    np.testing.assert_array_equal(tensors["blk.1.attn_v.weight"].data, v)


def rope_rotate_half(x, pos, base=10000.0):
    """minnow's / HF's RoPE on (..., head_dim): dimension i pairs with i + head_dim/2."""
    half = x.shape[-1] // 2
    angle = pos * base ** (-np.arange(half) / half)
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * np.cos(angle) - b * np.sin(angle), b * np.cos(angle) + a * np.sin(angle)], -1)


def rope_interleaved(x, pos, base=10000.0):
    """llama.cpp's normal RoPE on (..., head_dim): dimension 2i pairs with 2i + 1."""
    half = x.shape[-1] // 2
    angle = pos * base ** (-np.arange(half) / half)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * np.cos(angle) - b * np.sin(angle), b * np.cos(angle) + a * np.sin(angle)
    return out


def test_permuted_projections_give_llama_cpp_the_same_rotated_queries():
    rng = np.random.default_rng(0)
    n_head, head_dim, d = 3, 8, 10
    w, x = rng.normal(size=(n_head * head_dim, d)), rng.normal(size=d)
    ours = rope_rotate_half((w @ x).reshape(n_head, head_dim), pos=5)
    theirs = rope_interleaved((permute_for_llama_cpp(w, n_head) @ x).reshape(n_head, head_dim), pos=5)
    # the same vectors with each head's dimensions reordered, so every q.k dot product is unchanged
    order = permute_for_llama_cpp(np.arange(head_dim)[:, None], 1)[:, 0]
    np.testing.assert_allclose(theirs, ours[:, order], atol=1e-12)
    assert not np.allclose(rope_interleaved((w @ x).reshape(n_head, head_dim), pos=5)[:, order], ours)


def test_untied_head_is_written_and_odd_rows_fall_back_from_q8_0(tmp_path, tok_dir):
    from gguf import GGMLQuantizationType as T

    folder = tmp_path / "untied"
    folder.mkdir()
    model = make_model(folder, tok_dir, tie=False, ffn_dim=80, seed=1)  # ffn_down rows of 80: not whole Q8_0 blocks
    for dtype in ("f32", "q8_0", "q4_0"):
        out, info = export(folder, tmp_path, dtype)
        _, tensors = fields(out)
        assert info["tensors"] == 21 and "output.weight" in tensors and "token_embd.weight" in tensors
        assert_logits_close(model, out, dtype)
        if dtype != "f32":
            assert info["fallbacks"] == {"blk.0.ffn_down.weight": "F16", "blk.1.ffn_down.weight": "F16"}
            assert tensors["blk.0.ffn_down.weight"].tensor_type == T.F16
    # untied, the head is the output matrix kept at 8 bits; the embedding takes the file's type
    assert info["kept_8bit"] == {"output.weight": "Q8_0"} and tensors["output.weight"].tensor_type == T.Q8_0
    assert tensors["token_embd.weight"].tensor_type == T.Q4_0


def test_gguf_tokenizer_encodes_like_minnows(tied, tmp_path):
    from transformers import AutoTokenizer

    folder, _ = tied
    out, _ = export(folder, tmp_path, "f16")
    theirs = AutoTokenizer.from_pretrained(str(out.parent), gguf_file=out.name)
    ours = tokenizer.load(folder / "tokenizer.json")
    more = ["你好，世界", "Hello World 12345 it's  spaced\tout\r\n", "x = [i ** 2 for i in range(10)]  # 平方"]
    for text in TEXTS + more:
        ids = ours.encode(text, add_special_tokens=False).ids
        assert theirs.encode(text) == ids, text  # add_bos_token is false: no id is added
        assert theirs.decode(ids) == text
    assert (theirs.bos_token, theirs.eos_token, theirs.pad_token) == ("<|bos|>", "<|eos|>", "<|pad|>")
    messages = [
        {"role": "system", "content": "be a fish"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "blub!"},
    ]
    rendered = theirs.apply_chat_template(messages, tokenize=False)
    layout = chat_layout.read(ours, folder / "tokenizer.json")
    assert theirs.encode(rendered) == layout.encode_chat(ours, messages)


def test_broken_and_foreign_files_are_refused_by_name(tied, tmp_path):
    import gguf

    folder, _ = tied
    out, _ = export(folder, tmp_path, "q8_0")
    data = out.read_bytes()
    bad = tmp_path / "bad.gguf"
    # header, metadata, tensor infos, tensor data; the last byte belongs to output_norm (F32, no padding after it)
    for cut in (0, 3, 40, 2000, len(data) // 2, len(data) - 1):
        bad.write_bytes(data[:cut])
        with pytest.raises(InputError, match=re.escape(f"{bad}: not a readable GGUF")):
            read_gguf_check(bad)
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputError, match=re.escape(f"{bad}: not a readable GGUF")):
        read_gguf_check(bad)
    other = tmp_path / "bert.gguf"
    writer = gguf.GGUFWriter(other, "bert")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(InputError, match=re.escape(f"{other}: GGUF architecture is 'bert', not 'llama'")):
        read_gguf_check(other)


def test_folders_that_cannot_be_exported_are_refused_and_leave_no_file(tied, tmp_path, tok_dir):
    folder, model = tied
    out = tmp_path / "out" / "x.gguf"
    with pytest.raises(InputError, match="'q4_k_m' .* cannot write K-quants: run llama.cpp's llama-quantize"):
        write_gguf(folder, out, "q4_k_m")
    bare = tmp_path / "bare"
    model_folder.save_model(model, bare / "model.safetensors", bare / "config.json", {})
    with pytest.raises(InputError, match=re.escape(f"{bare}: no readable tokenizer.json")):
        write_gguf(bare, out)
    small = tmp_path / "small"  # an embedding with fewer rows than the tokenizer has tokens
    cfg = ModelConfig(vocab_size=320, d_model=64, n_layers=1, n_heads=4, n_kv_heads=2, ffn_dim=128, context=64)
    model_folder.save_model(Transformer(cfg), small / "model.safetensors", small / "config.json", {})
    tokenizer.copy_files(tok_dir / "tokenizer.json", small)
    with pytest.raises(InputError, match=re.escape(f"{small / 'tokenizer.json'}: token id")):
        write_gguf(small, out)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


# --- a char tokenizer: llama.cpp's SentencePiece kind ---------------------------------------------


@pytest.fixture(scope="module")
def char_model(tmp_path_factory):
    """A random model with a char tokenizer trained on the TEXTS without their last one,
    so its emoji and accents are characters it has no token for."""
    tok_dir = tmp_path_factory.mktemp("char-tok")
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TEXTS[:-1] * 200]), tok_dir / "train.parquet")
    tokenizer.save(tokenizer.train([tok_dir / "train.parquet"], vocab_size=320, kind="char"), tok_dir)
    folder = tmp_path_factory.mktemp("char") / "fish"
    folder.mkdir()
    return folder, make_model(folder, tok_dir)


def llama_cpp_spm(meta: dict, text: str) -> list[int]:
    """What llama.cpp's SentencePiece tokenizer (llm_tokenizer_spm) makes of text over a
    vocabulary without merges: spaces escaped to "▁", then each character's token, or
    the <0xXX> tokens of its bytes where it has none."""
    ids = {token: i for i, token in enumerate(meta["tokenizer.ggml.tokens"])}
    out = []
    for char in text.replace(" ", "\u2581"):
        out += [ids[char]] if char in ids else [ids[f"<0x{b:02X}>"] for b in char.encode()]
    return out


def llama_cpp_pieces(meta: dict, ids: list[int]) -> str:
    """llama.cpp's detokenizer for that vocabulary: BYTE tokens are their byte, other
    tokens their text with "▁" read as a space."""
    from gguf import TokenType

    tokens, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
    data = b"".join(
        bytes([int(tokens[i][3:5], 16)]) if types[i] == TokenType.BYTE else tokens[i].replace("\u2581", " ").encode()
        for i in ids
    )
    return data.decode()


def test_char_tokenizer_is_written_as_a_sentencepiece_vocabulary_with_byte_fallback(char_model, tmp_path):
    from gguf import TokenType
    from transformers import AutoTokenizer

    folder, model = char_model
    ours = tokenizer.load(folder / "tokenizer.json")
    out, _ = export(folder, tmp_path, "f16")
    meta, _ = fields(out)
    assert (meta["tokenizer.ggml.model"], meta["tokenizer.ggml.add_space_prefix"]) == ("llama", False)
    n, rows = ours.get_vocab_size(), model.cfg.vocab_size
    assert len(meta["tokenizer.ggml.tokens"]) == len(meta["tokenizer.ggml.scores"]) == rows
    expected = [ours.id_to_token(i).replace(" ", "\u2581") for i in range(n)] + [f"[PAD{i}]" for i in range(n, rows)]
    assert meta["tokenizer.ggml.tokens"] == expected
    types = meta["tokenizer.ggml.token_type"]
    assert [i for i, t in enumerate(types) if t == TokenType.BYTE] == [
        ours.token_to_id(b) for b in tokenizer.BYTE_TOKENS
    ]
    assert [i for i, t in enumerate(types) if t == TokenType.CONTROL] == sorted(special_ids(ours).values())
    for text in TEXTS + ["  two spaces, a tab\tand 猫 🐈 unseen"]:
        ids = ours.encode(text, add_special_tokens=False).ids
        assert llama_cpp_spm(meta, text) == ids, text
        assert llama_cpp_pieces(meta, ids) == text
    # transformers reads the same vocabulary and weights, but its GGUF loader puts a prefix
    # space before text whatever add_space_prefix says: compare what follows it
    theirs = AutoTokenizer.from_pretrained(str(out.parent), gguf_file=out.name)
    for text in TEXTS:
        ids = ours.encode(text, add_special_tokens=False).ids
        assert theirs.encode(text)[-len(ids) :] == ids and theirs.decode(ids) == text
    assert_logits_close(model, out, "f16")


def test_char_vocabulary_without_a_space_spells_the_space_byte_as_the_space(tmp_path):
    from gguf import TokenType

    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    pq.write_table(pa.Table.from_pylist([{"text": "小鱼在水里游泳，它很开心。▁"}] * 3), tok_dir / "train.parquet")
    tokenizer.save(tokenizer.train([tok_dir / "train.parquet"], vocab_size=320, kind="char"), tok_dir)
    folder = tmp_path / "fish"
    folder.mkdir()
    make_model(folder, tok_dir)
    out, _ = export(folder, tmp_path, "f32")
    meta, _ = fields(out)
    ours = tokenizer.load(folder / "tokenizer.json")
    space, literal = ours.token_to_id("<0x20>"), ours.token_to_id("\u2581")
    assert (
        meta["tokenizer.ggml.tokens"][space] == "\u2581"
        and meta["tokenizer.ggml.token_type"][space] == TokenType.NORMAL
    )
    assert meta["tokenizer.ggml.token_type"][literal] == TokenType.UNUSED  # a literal "▁" reads as a space in GGUF
    text = "小鱼 在水里"
    ids = ours.encode(text, add_special_tokens=False).ids
    assert llama_cpp_spm(meta, text) == ids and llama_cpp_pieces(meta, ids) == text


def test_a_tokenizer_llama_cpp_would_read_otherwise_is_refused(tied, tmp_path):
    """A pretrained tokenizer with a normaliser (or another split) is not GGUF's byte-level
    BPE: exporting it would make llama.cpp tokenize differently, so nothing is written."""
    import shutil

    folder, _ = tied
    other = tmp_path / "normalised"
    shutil.copytree(folder, other)
    tokenizer_json = json.loads((other / "tokenizer.json").read_text())
    tokenizer_json["normalizer"] = {"type": "NFC"}
    (other / "tokenizer.json").write_text(json.dumps(tokenizer_json))
    with pytest.raises(InputError, match=r"normalised/tokenizer.json: GGUF export writes byte-level BPE"):
        write_gguf(other, tmp_path / "out.gguf", "f16")
    assert not (tmp_path / "out.gguf").exists()
