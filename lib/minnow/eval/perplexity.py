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

import math
from collections.abc import Callable

import torch

# (input ids (1, T)) -> logits (1, T, vocab)
LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """Tokenizer-independent loss: summed NLL over the text, in bits, per UTF-8 byte."""
    return nll_nats / math.log(2) / n_bytes


def _perplexity(nats: float) -> float | None:
    """exp(nats), or None where it exceeds a float: few-space text (Chinese, code) can
    give one "word" hundreds of nats, and bits-per-byte is the figure to read then."""
    return math.exp(nats) if nats < 700 else None


def metrics(nll_sum: float, tokens: int, text: str) -> dict:
    """Mean NLL, token/word perplexity and bits-per-byte of a text scored to `nll_sum` nats."""
    n_bytes, words = len(text.encode("utf-8")), len(text.split())
    return {
        "nll_sum": nll_sum,
        "mean_nll": nll_sum / tokens,
        "token_perplexity": _perplexity(nll_sum / tokens),
        "bits_per_byte": bits_per_byte(nll_sum, n_bytes),
        "word_perplexity": _perplexity(nll_sum / max(words, 1)),
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
