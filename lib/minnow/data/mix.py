"""Weighted mixing of sources, with down- and up-sampling, decided per document.

Weights are target shares of the train split, measured in bytes or in tokens.
Tokens are counted before any tokenizer exists, so "tokens" means pre-tokenizer
words and punctuation (`filters.words`), a stable proxy for BPE tokens. With no
`total`, the mix is the largest one that repeats nothing: the scarcest source
(relative to its weight) is used whole and the others are subsampled. A `total`
larger than that upsamples, repeating documents whole epochs and then a random
part. Each document's repeat count comes from a hash of (seed, id, source), so
the mix does not depend on the order documents arrive in.
"""

import hashlib
import math

from minnow.data.filters import words


def measure(text: str, by: str) -> int:
    return len(text.encode("utf-8")) if by == "bytes" else len(words(text))


def sampling_factors(available: dict[str, int], weights: dict[str, float], total: float | None) -> dict[str, float]:
    """How many times each source's train data is used (below 1 subsamples); every
    source must have some (prepare_corpus says which has none, and why)."""
    share = {s: w / sum(weights.values()) for s, w in weights.items()}
    if total is None:
        total = min(available[s] / share[s] for s in share)
    return {s: total * share[s] / available[s] for s in share}


def _uniform(seed: int, doc_id: str, source: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{source}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def repeats(factor: float, seed: int, doc_id: str, source: str) -> int:
    """Copies of one document in the mix: floor(factor), plus one with the remaining probability."""
    whole = math.floor(factor)
    return whole + (_uniform(seed, doc_id, source) < factor - whole)
