"""Scoring minnow models on eval texts, and ppl.json.

Kept apart from `perplexity` (the arithmetic, which reference models use too) so
that changing minnow's model or tokenizer code does not invalidate the cached
reference scores: the reference stage's code digest does not reach this module.
"""

import json
import math
from pathlib import Path

from minnow import checkpoint, tokenizer
from minnow.errors import InputError
from minnow.evalsets import read_text
from minnow.perplexity import score_text


def evaluate_model(folder: Path, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model folder's metrics on each eval text, in windows of its own context."""
    return evaluate(checkpoint.load_model(folder), tokenizer.load(Path(folder) / "tokenizer.json"), texts, stride_fraction)


def evaluate(model, tok, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model's metrics on each eval text (its tokenizer `tok`), in windows of its context."""
    context = model.cfg.context
    stride = max(1, int(context * stride_fraction))
    start = tokenizer.special_id(tok, "eos")
    if start is None:
        raise InputError("the model's tokenizer has no <|eos|> token to start a document from")
    results = {}
    for name, path in texts.items():
        text = read_text(path)
        ids = tok.encode(text, add_special_tokens=False).ids
        results[name] = {"context": context, "stride": stride,
                         **score_text(lambda x: model(x)[0], ids, start, text, context, stride)}
    return results


def report(name: str, folder: Path, texts: dict[str, Path], metas: dict[str, Path], references: dict[str, dict[str, Path]],
           protocol: dict) -> dict:
    """ppl.json: per eval set, what it is, our model's metrics and every reference's, on the same bytes."""
    info = json.loads((Path(folder) / "config.json").read_text())
    ours = evaluate_model(folder, texts, protocol["stride_fraction"])
    sets = {}
    for evalset in texts:
        refs = {ref: json.loads(Path(p).read_text()) for ref, p in references.get(evalset, {}).items()}
        sets[evalset] = {**json.loads(Path(metas[evalset]).read_text()), "model": ours[evalset], "references": refs,
                         "ranking_bits_per_byte": _ranking(name, ours[evalset], refs)}
    model = {"name": name, "parameters": _parameters(folder), "vocab_size": info["vocab_size"],
             "context": info["max_position_embeddings"], **info.get("minnow_data", {})}
    return {"model": model, "protocol": protocol, "eval_sets": sets}


def _parameters(folder: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(Path(folder) / "model.safetensors"), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


def _ranking(name: str, ours: dict, refs: dict) -> list[dict]:
    rows = [{"model": name, "bits_per_byte": ours["bits_per_byte"]}]
    rows += [{"model": r, "bits_per_byte": m["bits_per_byte"]} for r, m in refs.items() if "bits_per_byte" in m]
    return sorted(rows, key=lambda row: row["bits_per_byte"])
