"""Scoring minnow models on eval texts, in windows of their own context.

Kept apart from `perplexity` (the arithmetic, which reference models use too) so
that changing minnow's model or tokenizer code does not invalidate the cached
reference scores: the reference stage's code digest does not reach this module.
"""

from pathlib import Path

from minnow import model_folder, tokenizer
from minnow.errors import InputError
from minnow.eval.eval_sets import read_text
from minnow.eval.perplexity import score_text


def score_folder(folder: Path, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model folder's metrics on each eval text, in windows of its own context."""
    return score(
        model_folder.load_model(folder), tokenizer.load(Path(folder) / "tokenizer.json"), texts, stride_fraction
    )


def score(model, tok, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model's metrics on each eval text (its tokenizer `tok`), in windows of its context."""
    return score_logits(lambda x: model(x)[0], model.cfg.context, tok, texts, stride_fraction)


def score_logits(logits_fn, context: int, tok, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """Metrics on each eval text of any engine that gives logits over minnow's token ids
    (minnow's own model, llama.cpp running its GGUF), in windows of `context`."""
    stride = max(1, int(context * stride_fraction))
    start = tokenizer.special_id(tok, "eos")
    if start is None:
        raise InputError("the model's tokenizer has no <|eos|> token to start a document from")
    results = {}
    for name, path in texts.items():
        text = read_text(path)
        ids = tok.encode(text, add_special_tokens=False).ids
        results[name] = {
            "context": context,
            "stride": stride,
            **score_text(logits_fn, ids, start, text, context, stride),
        }
    return results
