"""Export a model folder to GGUF, the single-file format of llama.cpp and ollama.

People who run local models mostly do so through llama.cpp or tools built on it
(ollama, LM Studio), which read neither safetensors nor tokenizer.json: they
want one GGUF file holding the hyperparameters, the weights under llama.cpp's
tensor names and the tokenizer as metadata. A minnow model is a plain Llama, so
it is written as the "llama" architecture, the way llama.cpp's own
convert_hf_to_gguf.py writes a Hugging Face LlamaForCausalLM.

One step is not a renaming. minnow (like Hugging Face) applies RoPE in the
rotate-half layout, pairing dimension i of a head with i + head_dim/2, while
llama.cpp rotates adjacent pairs (2i, 2i+1). The rows of the query and key
projections are therefore permuted, per head, so that llama.cpp's rotation of
the permuted weights gives the same attention scores; `transformers` undoes the
same permutation when it loads a GGUF.

The tokenizer is stored as llama.cpp's "gpt2" kind (byte-level BPE) with the
"gpt-2" pre-tokenizer, whose split regex is the one minnow's BPE uses (and a
pretrained tokenizer read from a GGUF, SmolLM2's included); a char tokenizer, a
vocabulary of characters with byte fallback, as the "llama" (SentencePiece)
kind, which is exactly that. Any other tokenizer (a normaliser, another split)
is refused rather than written as one llama.cpp would read differently.
"""

import json
from pathlib import Path

import numpy as np

from minnow.atomic import atomic_path
from minnow.errors import InputError
from minnow.model.model_folder import load_model
from minnow.model.transformer import ModelConfig, Transformer
from minnow.tokens.tokenizer import BYTE_TOKENS, kind_of

SPACE_PIECE = "\u2581"  # SentencePiece's spelling of a space
# The types the gguf package can write. It only reads the K-quants (q4_k_m, q5_k_m, q6_k):
# those come from llama.cpp's own llama-quantize, run on model-f16.gguf.
DTYPES = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0", "q5_1": "Q5_1", "q5_0": "Q5_0", "q4_1": "Q4_1", "q4_0": "Q4_0"}
FILE_TYPES = {
    "f32": "ALL_F32",
    "f16": "MOSTLY_F16",
    "q8_0": "MOSTLY_Q8_0",
    "q5_1": "MOSTLY_Q5_1",
    "q5_0": "MOSTLY_Q5_0",
    "q4_1": "MOSTLY_Q4_1",
    "q4_0": "MOSTLY_Q4_0",
}
# Below 8 bits the output matrix (the tied embedding, or the untied head) is kept at 8 bits:
# llama.cpp's quantizer keeps it at Q6_K for these types, since every logit passes through it,
# and Q6_K is one the gguf package cannot write.
OUTPUT_TYPE = "Q8_0"
# Hugging Face parameter name (after "model.layers.N.") -> llama.cpp tensor name (after "blk.N.")
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def write_gguf(folder: str | Path, out: str | Path, dtype: str = "f16") -> dict:
    """Write the model in `folder` (weights, config.json, tokenizer files) to the GGUF
    file `out`, its matrices as `dtype` (one of DTYPES; norms stay F32). Returns the
    file's size, dtype, tensor count, the tensors that could not take `dtype` (name ->
    the type they were written as) and the output matrix kept at 8 bits, if any."""
    import gguf

    if dtype not in DTYPES:
        k_quant = " (the gguf package cannot write K-quants: run llama.cpp's llama-quantize on model-f16.gguf)"
        raise InputError(f"GGUF dtype {dtype!r} is not one of {', '.join(DTYPES)}" + (k_quant if "_k" in dtype else ""))
    folder, out = Path(folder), Path(out)
    model = load_model(folder)
    with atomic_path(out) as tmp:
        writer = gguf.GGUFWriter(tmp, "llama")
        writer.add_name(folder.resolve().name)
        writer.add_file_type(gguf.LlamaFileType[FILE_TYPES[dtype]])
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        _add_hyperparameters(writer, model.cfg)
        _add_tokenizer(writer, folder, model.cfg.vocab_size)
        count, fallbacks, kept = _add_tensors(writer, model, gguf.GGMLQuantizationType[DTYPES[dtype]])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        written = read_gguf_check(tmp)
        if written["tensors"] != count:  # a writer bug must not leave a file that looks finished
            raise InputError(f"{out}: wrote {written['tensors']} tensors of {count}")
    return {
        "path": str(out),
        "bytes": out.stat().st_size,
        "dtype": dtype,
        "tensors": count,
        "fallbacks": fallbacks,
        "kept_8bit": kept,
    }


def _tokenizer_files(folder: Path) -> tuple[dict, dict]:
    """tokenizer.json and tokenizer_config.json (which must hold the chat template)."""
    try:
        tokenizer_json = json.loads((folder / "tokenizer.json").read_text())
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config["chat_template"]
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise InputError(f"{folder}: no readable tokenizer.json and tokenizer_config.json ({e})") from None
    return tokenizer_json, config


def _add_hyperparameters(writer, cfg: ModelConfig) -> None:
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_context_length(cfg.context)
    writer.add_embedding_length(cfg.d_model)
    writer.add_block_count(cfg.n_layers)
    writer.add_feed_forward_length(cfg.ffn_dim)
    writer.add_head_count(cfg.n_heads)
    writer.add_head_count_kv(cfg.n_kv_heads)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_layer_norm_rms_eps(cfg.norm_eps)


def _add_tokenizer(writer, folder: Path, vocab_size: int) -> None:
    """The folder's tokenizer as llama.cpp metadata, its vocabulary padded to the
    model's embedding rows with unused placeholders (llama.cpp wants one token per row)."""
    from gguf import TokenType

    tokenizer_json, config = _tokenizer_files(folder)
    vocab = {**tokenizer_json["model"]["vocab"], **{t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}}
    if max(vocab.values()) >= vocab_size:
        raise InputError(
            f"{folder / 'tokenizer.json'}: token id {max(vocab.values())} is past the model's "
            f"{vocab_size} embedding rows"
        )
    tokens = [f"[PAD{i}]" for i in range(vocab_size)]
    types = [TokenType.UNUSED] * vocab_size
    special = {t["content"] for t in tokenizer_json["added_tokens"] if t["special"]}
    for token, i in vocab.items():
        tokens[i] = token
        types[i] = TokenType.CONTROL if token in special else TokenType.NORMAL
    if kind_of(tokenizer_json) == "char":
        _char_model(writer, tokens, types)
    else:
        _check_byte_level(tokenizer_json, folder)
        _bpe_model(writer, tokenizer_json["model"]["merges"])
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    ids = {"bos": writer.add_bos_token_id, "eos": writer.add_eos_token_id, "pad": writer.add_pad_token_id}
    for name, add in ids.items():
        if config.get(f"{name}_token") is not None:
            add(vocab[config[f"{name}_token"]])
    writer.add_add_bos_token(False)
    writer.add_chat_template(config["chat_template"])


def _check_byte_level(tokenizer_json: dict, folder: Path) -> None:
    """llama.cpp's "gpt-2" kind reads text as a byte-level BPE with GPT-2's split and no
    normaliser does: a tokenizer that reads it otherwise would tokenize differently there."""
    pre = tokenizer_json.get("pre_tokenizer") or {}
    if tokenizer_json.get("normalizer") or pre.get("type") != "ByteLevel" or not pre.get("use_regex", True):
        raise InputError(
            f"{folder / 'tokenizer.json'}: GGUF export writes byte-level BPE with GPT-2's split and no normaliser; "
            f"this tokenizer has normalizer {tokenizer_json.get('normalizer')} and pre_tokenizer {pre.get('type')}"
        )


def _bpe_model(writer, merges: list) -> None:
    """Byte-level BPE is llama.cpp's "gpt2" kind with the "gpt-2" split regex, minnow's own."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    # ["a b", ...] in older tokenizers, [["a", "b"], ...] in newer
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])


def _char_model(writer, tokens: list[str], types: list) -> None:
    """A char tokenizer is a SentencePiece vocabulary with byte fallback, llama.cpp's
    "llama" kind, once two things are respelt in place. Byte tokens are typed BYTE,
    which is how llama.cpp finds its fallback. And llama.cpp turns every space into
    "▁" before the lookup, so the space token is spelt "▁" (the <0x20> byte token
    where no character token for the space exists); a literal "▁" in the vocabulary
    would then be a second space, so its row is left unused and a GGUF reads "▁" as
    a space, the one character it does not round-trip. No prefix space is added,
    and with no merges every score is 0. (transformers' GGUF loader puts a prefix
    space before text whatever the file says; its tokenizer is the one in export/hf.)"""
    from gguf import TokenType

    byte_tokens = set(BYTE_TOKENS)
    for i, token in enumerate(tokens):
        if token in byte_tokens:
            types[i] = TokenType.BYTE
        elif token == SPACE_PIECE and types[i] == TokenType.NORMAL:
            tokens[i], types[i] = f"[PAD{i}]", TokenType.UNUSED
    space = tokens.index(" ") if " " in tokens else tokens.index(BYTE_TOKENS[ord(" ")])
    tokens[space], types[space] = SPACE_PIECE, TokenType.NORMAL
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_add_space_prefix(False)


def _type_for(name: str, qtype, cfg: ModelConfig):
    """The type a matrix asks for: `qtype`, except the output matrix below 8 bits."""
    from gguf import GGMLQuantizationType as T

    output = "token_embd.weight" if cfg.tie_embeddings else "output.weight"
    low_bit = qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1)
    return T[OUTPUT_TYPE] if low_bit and name == output else qtype


def _add_tensors(writer, model: Transformer, qtype) -> tuple[int, dict[str, str], dict[str, str]]:
    """Add every weight as `qtype` where it can be; return the count, the matrices that
    fell back to F16 and the output matrix kept at 8 bits (name -> type written)."""
    count, fallbacks, kept = 0, {}, {}
    for name, array in _tensors(model):
        wanted = _type_for(name, qtype, model.cfg)
        data, written = _encode(array, wanted)
        if array.ndim > 1 and written != wanted:
            fallbacks[name] = written.name
        elif wanted != qtype:
            kept[name] = written.name
        writer.add_tensor(name, data, raw_dtype=written)
        count += 1
    return count, fallbacks, kept


def _tensors(model: Transformer):
    """(llama.cpp name, float32 array) for every weight, q/k permuted for llama.cpp's RoPE."""
    cfg = model.cfg
    state = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    yield "token_embd.weight", state["model.embed_tokens.weight"]
    for i in range(cfg.n_layers):
        for hf, name in LAYER_NAMES.items():
            array = state[f"model.layers.{i}.{hf}"]
            if name == "attn_q.weight":
                array = permute_for_llama_cpp(array, cfg.n_heads)
            elif name == "attn_k.weight":
                array = permute_for_llama_cpp(array, cfg.n_kv_heads)
            yield f"blk.{i}.{name}", array
    yield "output_norm.weight", state["model.norm.weight"]
    if not cfg.tie_embeddings:
        yield "output.weight", state["lm_head.weight"]


def permute_for_llama_cpp(w: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k projection from rotate-half RoPE order to llama.cpp's interleaved
    pairs (convert_hf_to_gguf.py's LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _encode(array: np.ndarray, qtype):
    """`array` as `qtype`, or as F16 where a quantised block does not fit its rows (every
    type here has 32-wide blocks, so none of them would fit better); 1-D tensors (norms)
    always F32, as llama.cpp keeps them."""
    from gguf import GGMLQuantizationType as T
    from gguf.quants import QuantError, quantize

    if array.ndim == 1:
        qtype = T.F32
    try:
        return quantize(array, qtype), qtype
    except QuantError:
        return quantize(array, T.F16), T.F16


def read_gguf_check(path: str | Path) -> dict:
    """A GGUF file's architecture, name, file type and tensor count, or InputError if
    it is not a complete, readable llama GGUF."""
    import gguf

    path = Path(path)
    try:
        reader = gguf.GGUFReader(path)  # parses every header and maps every tensor's data
    except Exception as e:  # bad magic, truncation, foreign files: numpy, struct and OS errors alike
        raise InputError(f"{path}: not a readable GGUF file ({type(e).__name__}: {e})") from None
    keys = ("general.architecture", "general.name", "general.file_type")
    arch, name, file_type = (field.contents() if (field := reader.get_field(key)) else None for key in keys)
    if arch != "llama":
        raise InputError(f"{path}: GGUF architecture is {arch!r}, not 'llama'")
    return {
        "architecture": arch,
        "name": name,
        "file_type": {t.value: t.name for t in gguf.LlamaFileType}.get(file_type, file_type),
        "tensors": len(reader.tensors),
    }
