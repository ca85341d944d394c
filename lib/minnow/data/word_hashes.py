"""Each document's words as 64-bit hashes, and their n-grams' hashes: read by the repetition filter and MinHash.

A word's hash depends on its text alone (xxh3 of its UTF-8 bytes, the same in every
process, unlike Python's `hash`), so n-gram and shingle hashes built from them agree
across parts and machines. A batch hashes each distinct word once.
"""

import numpy as np
import xxhash

PRIME = np.uint64(1099511628211)  # FNV's 64-bit prime: an n-gram's hash from its words'


def hash_words(word_lists: list[list[str]]) -> list[np.ndarray]:
    """uint64 hashes of each document's words, in order."""
    import pandas as pd

    flat = [w for words in word_lists for w in words]
    codes, distinct = pd.factorize(pd.Series(flat, dtype=object)) if flat else (np.zeros(0, np.int64), [])
    table = np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in distinct), dtype=np.uint64, count=len(distinct)
    )
    return np.split(table[codes], np.cumsum([len(w) for w in word_lists])[:-1])


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of n consecutive words."""
    return next(g for k, g in ngrams(hashes, n) if k == n)


def ngrams(hashes: np.ndarray, up_to: int):
    """(n, hashes of every n-gram) for n = 1 .. up_to, each from the one before."""
    grams = hashes
    with np.errstate(over="ignore"):
        for n in range(1, up_to + 1):
            if n > 1:
                grams = grams[:-1] * PRIME + hashes[n - 1 :]
            yield n, grams
