"""minnow's tokenizers: trained (byte-level BPE or characters), saved and loaded by every stage.

The train_tokenizer stage trains one; shards, training, evaluation, chat and the
export load it from here. Two kinds, both saved as a Hugging Face `tokenizers`
tokenizer.json, so every stage, and transformers, read either unchanged:

- `bpe`: byte-level BPE with no normaliser. It encodes any UTF-8 text, Chinese
  and emoji included, and decodes it back exactly.
- `char`: one token per character, as nanoGPT's first run does. Characters
  seen in training get a token each (the most frequent first, up to the
  config's vocab_size); any other character falls back to the 256 byte tokens
  `<0x00>`..`<0xFF>` of its UTF-8 bytes. Byte fallback rather than an unknown
  token because it keeps the exact round trip (an unk token would lose the
  character), needs no special token beyond the shared ones, and keeps
  bits-per-byte honest: an unseen character costs one token per byte, not one
  cheap guess. It is a BPE model with no merges, the layout of SentencePiece's
  byte-fallback vocabularies, which GGUF stores natively.

Special tokens mark documents (bos/eos/pad) and chat turns
(system/user/assistant/end); both kinds put them at ids 0-6. Document text is
encoded with special-token matching switched off, so a document that happens to
contain "<|end|>" cannot forge a turn boundary; chat turns are built at the id
level by `chat_layout`, from the same Jinja template Hugging Face users get.

A third kind, `pretrained`, is not trained: it is a checkpoint's own tokenizer
(`minnow.pretrained.tokenizer`), saved and loaded here like the other two.
"""

import hashlib
import json
import os
from collections import Counter
from pathlib import Path

from minnow.atomic import atomic_path
from minnow.errors import InputError

SPECIAL_TOKENS = {
    "bos": "<|bos|>",
    "eos": "<|eos|>",
    "pad": "<|pad|>",
    "system": "<|system|>",
    "user": "<|user|>",
    "assistant": "<|assistant|>",
    "end": "<|end|>",
}
# the char tokenizer's fallback for characters it has no token for, named as SentencePiece names them
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def use_threads(n: int) -> None:
    """Cap the tokenizer's Rayon pool at the job's threads (read once, at first use)."""
    os.environ["RAYON_NUM_THREADS"] = str(n)


def _sampled(doc_id: str, fraction: float) -> bool:
    digest = hashlib.blake2b(f"tokenizer:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def _texts(parquets: list[Path], fraction: float = 1.0, batch_size: int = 4096):
    """Batches of train text, every document kept when `fraction` is 1, else those whose id
    hashes below it: the same sample on every machine, drawn evenly across the parts."""
    import pyarrow.parquet as pq

    columns = ["text"] if fraction >= 1 else ["text", "id"]
    for parquet in parquets:
        for batch in pq.ParquetFile(parquet).iter_batches(batch_size=batch_size, columns=columns):
            texts = batch.column(0).to_pylist()
            if fraction < 1:
                texts = [t for t, i in zip(texts, batch.column(1).to_pylist(), strict=True) if _sampled(i, fraction)]
            yield texts


def sample_fraction(max_bytes: int | None, train_bytes: int) -> float:
    """The share of the train split a tokenizer reads so that it sees about `max_bytes`."""
    return 1.0 if not max_bytes or train_bytes <= max_bytes else max_bytes / train_bytes


def train(
    train_parquets: list[str | Path], vocab_size: int, min_frequency: int = 2, kind: str = "bpe", fraction: float = 1.0
):
    """A tokenizer of `kind` ("bpe" or "char") trained on (a `fraction` of) the train split's text only."""
    trainers = {"bpe": train_bpe, "char": train_char}
    if kind not in trainers:
        raise InputError(f"tokenizer kind must be one of {', '.join(trainers)}, got '{kind}'")
    return trainers[kind]([Path(p) for p in train_parquets], vocab_size, min_frequency, fraction)


def train_bpe(train_parquets: list[Path], vocab_size: int, min_frequency: int = 2, fraction: float = 1.0):
    """A byte-level BPE tokenizer of at most `vocab_size` tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_texts(train_parquets, fraction), trainer=trainer)
    return tok


def character_counts(parquets: list[Path], fraction: float = 1.0) -> Counter:
    """How often each character occurs in the split's text."""
    counts = Counter()
    for texts in _texts(parquets, fraction):
        for text in texts:
            counts.update(text)
    return counts


def train_char(train_parquets: list[Path], vocab_size: int, min_frequency: int = 2, fraction: float = 1.0):
    """A character tokenizer: a token for each character seen at least `min_frequency`
    times, the most frequent first while the specials, the byte tokens and the
    characters fit in `vocab_size`, so the config alone fixes the model's embedding."""
    room = vocab_size - len(SPECIAL_TOKENS) - len(BYTE_TOKENS)
    if room < 1:
        raise InputError(
            f"a char tokenizer needs vocab_size above {len(SPECIAL_TOKENS) + len(BYTE_TOKENS)} "
            f"(special and byte tokens), got {vocab_size}"
        )
    counts = character_counts(train_parquets, fraction)
    frequent = sorted((c for c, n in counts.items() if n >= min_frequency), key=lambda c: (-counts[c], c))
    return char_tokenizer(frequent[:room])


def char_tokenizer(characters: list[str]):
    """Specials, then `characters` in code point order, then the byte tokens; a BPE model
    with no merges and byte fallback, and no normaliser or pre-tokenizer, so text is
    read one character at a time and decodes back exactly."""
    from tokenizers import Tokenizer, decoders, models

    tokens = [*SPECIAL_TOKENS.values(), *sorted(characters), *BYTE_TOKENS]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[], byte_fallback=True))
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens(list(SPECIAL_TOKENS.values()))
    return tok


def kind_of(tokenizer_json: dict) -> str:
    """Which of minnow's kinds a parsed tokenizer.json holds: a char tokenizer is the
    BPE model with byte fallback and no merges, anything else is read as byte-level BPE."""
    model = tokenizer_json.get("model", {})
    return "char" if model.get("byte_fallback") and not model.get("merges") else "bpe"


def hf_config(special: dict | None = None, chat_template: str = CHAT_TEMPLATE) -> dict:
    """tokenizer_config.json for transformers' AutoTokenizer: the `special` tokens by name
    (bos, eos, pad, ...; default minnow's own) and the chat template."""
    special = special or {name: SPECIAL_TOKENS[name] for name in ("bos", "eos", "pad")}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **{f"{name}_token": token for name, token in special.items()},
        "chat_template": chat_template,
        "model_max_length": 1_000_000_000,
        "clean_up_tokenization_spaces": False,
    }


def save(tok, folder: str | Path, config: dict | None = None) -> Path:
    """Write tokenizer.json and tokenizer_config.json (`config`, else minnow's own) into
    `folder`, each atomically."""
    folder = Path(folder)
    with atomic_path(folder / "tokenizer.json") as tmp:
        tok.save(str(tmp))
    with atomic_path(folder / "tokenizer_config.json") as tmp:
        tmp.write_text(json.dumps(config or hf_config(), indent=2) + "\n")
    return folder / "tokenizer.json"


def copy_files(tokenizer_json: str | Path, folder: str | Path) -> None:
    """Put tokenizer.json and tokenizer_config.json beside a model, so the folder
    loads on its own (minnow chat, transformers' AutoTokenizer)."""
    source = Path(tokenizer_json).parent
    for name in ("tokenizer.json", "tokenizer_config.json"):
        with atomic_path(Path(folder) / name) as tmp:
            tmp.write_bytes((source / name).read_bytes())


def load(path: str | Path):
    """A trained tokenizer, set to encode special-token strings in text as plain text."""
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # the tokenizers library raises plain Exceptions for missing or damaged files
        raise InputError(f"{path}: not a readable tokenizer.json ({e})") from None
    tok.encode_special_tokens = True
    return tok
