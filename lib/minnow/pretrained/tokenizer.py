"""A checkpoint's own tokenizer, as the train_tokenizer stage's `pretrained` kind.

A model that starts from a checkpoint (SmolLM2's GGUF, a Hugging Face folder)
must read text exactly as its base did: this takes the checkpoint's tokenizer
through transformers, keeps its special tokens and chat template, and checks
that minnow can lay conversations out with that template before any shard is
written. Apart from `minnow.tokens.tokenizer` because it loads checkpoints (`loaders`):
code that only reads a saved tokenizer.json (shards, training, scoring) then
does not change when the checkpoint loaders do.
"""

from minnow.errors import InputError
from minnow.pretrained import loaders
from minnow.tokens import chat_layout, tokenizer


def load(checkpoint: dict, document_end: str | None = None):
    """The tokenizer of a checkpoint (hf + revision, gguf_path, or gguf_package + gguf_file)
    and its tokenizer_config.json: its special tokens and chat template kept,
    `document_end` (default its EOS) the token minnow separates documents with."""
    where = loaders.source(checkpoint)[0]
    try:
        hf = loaders.load_tokenizer(checkpoint)
    except Exception as e:  # hub errors, unreadable files: all mean "cannot load"
        raise InputError(f"{where}: the checkpoint's tokenizer cannot be loaded ({type(e).__name__}: {e})") from None
    if not hf.is_fast:
        raise InputError(f"{where}: the checkpoint has no fast (tokenizer.json) tokenizer")
    special = {name: getattr(hf, f"{name}_token") for name in ("bos", "eos", "pad", "unk")}
    config = tokenizer.hf_config(special, hf.chat_template)
    if document_end:
        config["minnow_document_end"] = document_end
    tok = hf.backend_tokenizer
    chat_layout.of(tok, config, where)  # a template minnow cannot lay out stops here, not in the shards
    return tok, config
