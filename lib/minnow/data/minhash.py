"""MinHash signatures and LSH band keys: what near-dedup compares instead of texts.

Documents are word n-gram shingles, hashed from their words' hashes; a signature
holds, for each of `num_perm` hash functions, the smallest hash of any shingle
(rensa computes a whole batch in Rust). Two signatures agree in a fraction of places that estimates the
Jaccard similarity of the shingle sets. Cut into b bands of r rows, two documents
whose similarity is near the S-curve's midpoint (1/b)^(1/r) share at least one
band with high probability: a band's hash is the key the global dedup step groups
by, and a candidate pair is confirmed by the estimated Jaccard itself, so a pair
that merely shares a band is not a duplicate.
"""

import numpy as np
from rensa import RMinHash

from minnow.data.word_hashes import ngram_hashes

MIX = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for combining a band's rows into one key


def shingle_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """The hashes of a document's word n-grams; a document shorter than n words is one shingle."""
    return ngram_hashes(word_hashes, min(n, len(word_hashes))) if len(word_hashes) else np.zeros(1, np.uint64)


def signatures(word_hashes: list[np.ndarray], num_perm: int, ngram: int, seed: int) -> np.ndarray:
    """(documents, num_perm) uint32 MinHash signatures of the documents' n-gram shingles,
    from their word hashes (`word_hashes.hash_words`), computed by rensa in one call."""
    if not word_hashes:
        return np.zeros((0, num_perm), dtype=np.uint32)
    grams = [shingle_hashes(h, ngram) for h in word_hashes]
    offsets = np.r_[0, np.cumsum([len(g) for g in grams])].astype(np.uint64)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(np.concatenate(grams), offsets, num_perm, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32)


def lsh_bands(num_perm: int, threshold: float) -> int:
    """Bands b (rows r = num_perm / b) whose S-curve midpoint (1/b)^(1/r) lies just below threshold."""
    options = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in options if (1 / b) ** (b / num_perm) <= threshold]
    return min(below, key=lambda b: threshold - (1 / b) ** (b / num_perm)) if below else options[-1]


def band_keys(signatures: np.ndarray, bands: int) -> np.ndarray:
    """(documents, bands) uint64 keys: equal keys in a band mean the band's rows are (almost
    surely) equal; the estimated Jaccard confirms every candidate anyway."""
    rows = signatures.shape[1] // bands
    key = np.zeros((signatures.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows):  # in place: a corpus's keys are large
            key *= MIX
            key += signatures[:, j::rows][:, :bands]
            key += np.uint64(j + 1)
    return key


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of documents from their signatures, row by row: the
    fraction of equal entries along the last axis, so (n, num_perm) arrays give n
    similarities (pair i compares a[i] with b[i]) and two single signatures give a scalar."""
    return (a == b).mean(axis=-1)
