"""The perplexity stage's arithmetic: sliding-window NLL, and what it means per token, byte and word.

Models with different tokenizers cannot be compared by token perplexity: a
tokenizer with longer tokens has fewer, harder tokens. Every model here scores
the very same text, and the summed NLL is also reported per UTF-8 byte
(bits-per-byte) and per whitespace word, which do not depend on the tokenizer.

Each text is scored as one stream: a start token (the model's document
separator), then the text's tokens, in windows of `context` tokens that advance
by `stride`; each token is scored once, in the first window that reaches it, so
every token after the first window sees at least `context - stride` tokens of
history (the protocol of Hugging Face's perplexity guide).
"""

import json
import math
from collections.abc import Callable
from pathlib import Path

import torch

# (input ids (1, T)) -> logits (1, T, vocab)
LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """Tokenizer-independent loss: summed NLL over the text, in bits, per UTF-8 byte."""
    return nll_nats / math.log(2) / n_bytes


def metrics(nll_sum: float, tokens: int, text: str) -> dict:
    """Mean NLL, token/word perplexity and bits-per-byte of a text scored to `nll_sum` nats."""
    n_bytes, words = len(text.encode("utf-8")), len(text.split())
    return {
        "nll_sum": nll_sum,
        "mean_nll": nll_sum / tokens,
        "token_perplexity": math.exp(nll_sum / tokens),
        "bits_per_byte": bits_per_byte(nll_sum, n_bytes),
        "word_perplexity": math.exp(nll_sum / words),
        "tokens": tokens,
        "bytes": n_bytes,
        "words": words,
    }


@torch.no_grad()
def sliding_nll(logits_fn: LogitsFn, ids: list[int], context: int, stride: int) -> tuple[float, int]:
    """Summed NLL (nats) of ids[1:] given everything before, and how many tokens were scored."""
    if not 0 < stride <= context:
        raise ValueError(f"stride must be in 1..context ({context}), got {stride}")
    seq = torch.tensor(ids, dtype=torch.long)
    inputs, targets = seq[:-1], seq[1:]
    total, scored_to, begin = 0.0, 0, 0
    while scored_to < len(targets):
        end = min(begin + context, len(targets))
        logits = logits_fn(inputs[begin:end].unsqueeze(0))[0].float()
        nll = torch.nn.functional.cross_entropy(logits, targets[begin:end], reduction="none")
        total += nll[scored_to - begin :].sum().item()
        scored_to = end
        begin += stride
    return total, len(targets)


def score_text(logits_fn: LogitsFn, token_ids: list[int], start_id: int, text: str, context: int, stride: int) -> dict:
    """Metrics of one text, given its token ids and the model's start token."""
    nll, tokens = sliding_nll(logits_fn, [start_id, *token_ids], context, stride)
    return metrics(nll, tokens, text)


def evaluate_model(folder: Path, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model folder's metrics on each eval text, in windows of its own context."""
    from minnow import checkpoint, tokenizer

    return evaluate(checkpoint.load_model(folder), tokenizer.load(Path(folder) / "tokenizer.json"), texts, stride_fraction)


def evaluate(model, tok, texts: dict[str, Path], stride_fraction: float) -> dict[str, dict]:
    """A minnow model's metrics on each eval text (its tokenizer `tok`), in windows of its context."""
    from minnow import tokenizer

    context = model.cfg.context
    stride = max(1, int(context * stride_fraction))
    results = {}
    for name, path in texts.items():
        text = Path(path).read_text(encoding="utf-8")
        ids = tok.encode(text, add_special_tokens=False).ids
        results[name] = {"context": context, "stride": stride,
                         **score_text(lambda x: model(x)[0], ids, tokenizer.special_id(tok, "eos"), text, context, stride)}
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
