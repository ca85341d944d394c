"""The perplexity stage's arithmetic: documents scored on their own in rolling windows, and
what the summed NLL means per token, byte and word.

The protocol is lm-evaluation-harness's `loglikelihood_rolling`, the one published
WikiText figures use. Each document is scored on its own, from the model's start
token (its document separator): the first window predicts the document's first
`context` tokens; each later window predicts the next `stride` tokens, with the
`context` tokens before them as input. Every token is scored once. With `stride`
equal to `context` (the default) the windows are exactly lm-eval's; a smaller
stride gives later tokens more history (Hugging Face's sliding-window guide).
Nothing outside a document is scored or counted: no joiner, no neighbour in context.

Models with different tokenizers cannot be compared by token perplexity, so the
summed NLL is also reported per UTF-8 byte (bits-per-byte) and per word, over the
summed bytes and words of the documents; neither depends on the tokenizer. Where the
documents come from several sources (a corpus's held-out set), the same figures are
also given per source (`by_source`): a model's own synthetic data and real text are
different claims.

Windows are scored in batches: sorted by length and packed up to `batch_tokens`
tokens per forward (right-padded; a causal model's real positions never see the
padding), so thousands of short documents cost a few dozen forwards. The batches go to
the model's device; only the per-window sums come back.
"""

import math
import re
from collections.abc import Callable

import torch

# (input ids (B, T)) -> logits (B, T, vocab); rows are right-padded
LogitsFn = Callable[[torch.Tensor], torch.Tensor]
BATCH_TOKENS = 4096


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """Tokenizer-independent loss: summed NLL over the text, in bits, per UTF-8 byte."""
    return nll_nats / math.log(2) / n_bytes


def _perplexity(nats: float) -> float | None:
    """exp(nats), or None where it exceeds a float: few-space text (Chinese, code) can
    give one "word" hundreds of nats, and bits-per-byte is the figure to read then."""
    return math.exp(nats) if nats < 700 else None


def count_words(document: str) -> int:
    """Words as lm-eval counts them for word perplexity (pieces between whitespace runs)."""
    return len(re.split(r"\s+", document))


def metrics(nll_sum: float, tokens: int, documents: list[str]) -> dict:
    """Mean NLL, token/word perplexity and bits-per-byte of documents scored to `nll_sum` nats."""
    n_bytes = sum(len(d.encode("utf-8")) for d in documents)
    words = sum(count_words(d) for d in documents)
    return {
        "nll_sum": nll_sum,
        "mean_nll": nll_sum / tokens,
        "token_perplexity": _perplexity(nll_sum / tokens),
        "bits_per_byte": bits_per_byte(nll_sum, n_bytes),
        "word_perplexity": _perplexity(nll_sum / max(words, 1)),
        "documents": len(documents),
        "tokens": tokens,
        "bytes": n_bytes,
        "words": words,
    }


def windows(n: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """Rolling windows over a document of n tokens after its start token, as (begin, end,
    scored): inputs are positions begin..end-1 of [start, t0 .. t(n-1)], predicting
    t(begin) .. t(end-1); the last `scored` predictions are the ones that count."""
    if not 0 < stride <= context:
        raise ValueError(f"stride must be in 1..context ({context}), got {stride}")
    out, done = [], 0
    while done < n:
        end = min(n, context if done == 0 else done + stride)
        out.append((max(0, end - context), end, end - done))
        done = end
    return out


def _batches(spans: list[tuple[int, int, int, int]], batch_tokens: int):
    """Spans (document, begin, end, scored), longest first, packed so that rows x the
    longest row stays within batch_tokens (one window alone may pass it)."""
    spans = sorted(spans, key=lambda s: s[2] - s[1], reverse=True)
    batch = []
    for span in spans:
        if batch and (len(batch) + 1) * (batch[0][2] - batch[0][1]) > batch_tokens:
            yield batch
            batch = []
        batch.append(span)
    if batch:
        yield batch


def _batch_nll(logits_fn: LogitsFn, sequences: list[torch.Tensor], batch, device) -> torch.Tensor:
    """Summed NLL of each span's scored tokens, one forward for the batch on `device`."""
    width = batch[0][2] - batch[0][1]
    x = torch.zeros(len(batch), width, dtype=torch.long)
    rows, cols, targets = [], [], []
    for i, (doc, begin, end, scored) in enumerate(batch):
        x[i, : end - begin] = sequences[doc][begin:end]
        rows += [i] * scored
        cols += range(end - begin - scored, end - begin)
        targets.append(sequences[doc][end - scored + 1 : end + 1])
    logits = logits_fn(x.to(device))[rows, cols].float()
    nll = torch.nn.functional.cross_entropy(logits, torch.cat(targets).to(logits.device), reduction="none")
    counts = torch.tensor([scored for *_, scored in batch])
    return torch.zeros(len(batch), dtype=torch.float64).index_add_(
        0, torch.arange(len(batch)).repeat_interleave(counts), nll.double().cpu()
    )


@torch.no_grad()
def document_nll(
    logits_fn: LogitsFn,
    documents: list[list[int]],
    start_id: int,
    context: int,
    stride: int,
    batch_tokens: int = BATCH_TOKENS,
    device: torch.device | str = "cpu",
) -> list[float]:
    """Summed NLL (nats) of each document's tokens, each scored on its own from `start_id`;
    `device` is where `logits_fn` wants its input."""
    sequences = [torch.tensor([start_id, *ids], dtype=torch.long) for ids in documents]
    spans = [(d, *w) for d, ids in enumerate(documents) for w in windows(len(ids), context, stride)]
    totals = [0.0] * len(documents)
    for batch in _batches(spans, batch_tokens):
        for (doc, *_), nll in zip(batch, _batch_nll(logits_fn, sequences, batch, device).tolist(), strict=True):
            totals[doc] += nll
    return totals


def score_documents(
    logits_fn: LogitsFn,
    token_ids: list[list[int]],
    documents: list[str],
    start_id: int,
    context: int,
    stride: int,
    batch_tokens: int = BATCH_TOKENS,
    device: torch.device | str = "cpu",
    sources: list[str] | None = None,
) -> dict:
    """Metrics of documents (their texts and token ids), each scored on its own; with each
    document's source, the same metrics per source too (`by_source`)."""
    nll = document_nll(logits_fn, token_ids, start_id, context, stride, batch_tokens, device)
    result = metrics(math.fsum(nll), sum(map(len, token_ids)), documents)
    if sources:
        result["by_source"] = {
            source: _picked(source, sources, nll, token_ids, documents) for source in dict.fromkeys(sources)
        }
    return result


def _picked(
    source: str, sources: list[str], nll: list[float], token_ids: list[list[int]], documents: list[str]
) -> dict:
    """The metrics of one source's documents."""
    picked = [i for i, s in enumerate(sources) if s == source]
    return metrics(
        math.fsum(nll[i] for i in picked), sum(len(token_ids[i]) for i in picked), [documents[i] for i in picked]
    )
