"""The train_tokenizer stage: byte-level BPE with special tokens and a chat template.

Byte-level BPE (HF `tokenizers`) with no normaliser encodes any UTF-8 text,
Chinese and emoji included, and decodes it back exactly. Special tokens mark
documents (bos/eos/pad) and chat turns (system/user/assistant/end). Document
text is encoded with special-token matching switched off, so a document that
happens to contain "<|end|>" cannot forge a turn boundary; chat turns are built
at the id level by `encode_chat`, the same layout the stored Jinja template
describes for Hugging Face users.
"""

import json
import os
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
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def use_threads(n: int) -> None:
    """Cap the tokenizer's Rayon pool at the job's threads (read once, at first use)."""
    os.environ["RAYON_NUM_THREADS"] = str(n)


def _texts(parquet: Path, batch_size: int = 4096):
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(parquet).iter_batches(batch_size=batch_size, columns=["text"]):
        yield batch.column(0).to_pylist()


def train(train_parquet: str | Path, vocab_size: int, min_frequency: int = 2):
    """A byte-level BPE tokenizer trained on the train split's text only."""
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
    tok.train_from_iterator(_texts(Path(train_parquet)), trainer=trainer)
    return tok


def hf_config() -> dict:
    """tokenizer_config.json for transformers' AutoTokenizer, with the chat template."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": SPECIAL_TOKENS["bos"],
        "eos_token": SPECIAL_TOKENS["eos"],
        "pad_token": SPECIAL_TOKENS["pad"],
        "chat_template": CHAT_TEMPLATE,
        "model_max_length": 1_000_000_000,
        "clean_up_tokenization_spaces": False,
    }


def save(tok, folder: str | Path) -> Path:
    """Write tokenizer.json and tokenizer_config.json into `folder`, each atomically."""
    folder = Path(folder)
    with atomic_path(folder / "tokenizer.json") as tmp:
        tok.save(str(tmp))
    with atomic_path(folder / "tokenizer_config.json") as tmp:
        tmp.write_text(json.dumps(hf_config(), indent=2) + "\n")
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


def special_id(tok, name: str) -> int:
    return tok.token_to_id(SPECIAL_TOKENS[name])


def markers(tok) -> dict[str, int]:
    """Ids of every special token, by name (eos, user, end, ...)."""
    return {name: special_id(tok, name) for name in SPECIAL_TOKENS}


def segments(text: str, messages: list[dict] | None, marker: dict[str, int]) -> list[tuple[list[int], str, list[int]]]:
    """A document as (ids before, text to encode, ids after) pieces: the one place
    that defines the chat layout <|role|> content <|end|>."""
    if not messages:
        return [([], text, [])]
    return [([marker[t["role"]]], t["content"], [marker["end"]]) for t in messages]


def encode_chat(tok, messages: list[dict]) -> list[int]:
    """Token ids of a conversation in the chat layout."""
    ids = []
    for before, text, after in segments("", messages, markers(tok)):
        ids += before + tok.encode(text, add_special_tokens=False).ids + after
    return ids
