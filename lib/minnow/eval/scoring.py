"""Scoring minnow models on eval sets, each document in rolling windows of their own context.

Kept apart from `perplexity` (the arithmetic, which reference models use too) so
that changing minnow's model or tokenizer code does not invalidate the cached
reference scores: the reference stage's code digest does not reach this module.
"""

from pathlib import Path

from minnow import devices
from minnow.eval.eval_sets import read_documents, read_sources
from minnow.eval.perplexity import BATCH_TOKENS, score_documents
from minnow.model import model_folder
from minnow.tokens import chat_layout


def score_folder(folder: Path, sets: dict[str, Path], protocol: dict, context: int | None = None) -> dict[str, dict]:
    """A minnow model folder's metrics on each eval set, in windows of its own context
    (or of `context`, where shorter)."""
    tok, start = chat_layout.document_start(folder)
    return score(model_folder.load_model(folder), tok, start, sets, protocol, context)


def score(model, tok, start: int, sets: dict[str, Path], protocol: dict, context: int | None = None) -> dict[str, dict]:
    """A minnow model's metrics on each eval set (its tokenizer `tok`, each document read
    after the token `start`), in windows of its context (or of `context`, where shorter),
    in fp32 on `protocol["device"]` (default auto: the job's GPU where it has one)."""
    device = devices.eval_device(protocol.get("device", "auto"))
    model = model.to(device).eval()
    window = min(model.cfg.context, context or model.cfg.context)
    return score_logits(lambda x: model(x)[0], window, tok, start, sets, protocol, device)


def score_logits(
    logits_fn, context: int, tok, start: int, sets: dict[str, Path], protocol: dict, device="cpu"
) -> dict[str, dict]:
    """Metrics on each eval set of any engine that gives logits over minnow's token ids
    (minnow's own model, llama.cpp running its GGUF), in windows of `context`, its input
    on `device`; `protocol` holds stride_fraction and optionally batch_tokens."""
    stride = max(1, int(context * protocol["stride_fraction"]))
    results = {}
    for name, path in sets.items():
        documents = read_documents(path)
        ids = [e.ids for e in tok.encode_batch(documents, add_special_tokens=False)]
        batch_tokens = protocol.get("batch_tokens", BATCH_TOKENS)
        results[name] = {
            "context": context,
            "stride": stride,
            "start_token": tok.id_to_token(start),
            "device": str(device),
            **score_documents(
                logits_fn, ids, documents, start, context, stride, batch_tokens, device, read_sources(path)
            ),
        }
    return results
