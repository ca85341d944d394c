"""Each document's words as 64-bit hashes: computed once, read by the repetition filter and MinHash.

A word's hash depends on its text alone (xxh3 of its UTF-8 bytes, the same in every
process, unlike Python's `hash`), so n-gram and shingle hashes built from them agree
across parts and machines. A batch hashes each distinct word once.
"""

import numpy as np
import xxhash


def hash_words(word_lists: list[list[str]]) -> list[np.ndarray]:
    """uint64 hashes of each document's words, in order."""
    import pandas as pd

    flat = [w for words in word_lists for w in words]
    codes, distinct = pd.factorize(pd.Series(flat, dtype=object)) if flat else (np.zeros(0, np.int64), [])
    table = np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in distinct), dtype=np.uint64, count=len(distinct)
    )
    return np.split(table[codes], np.cumsum([len(w) for w in word_lists])[:-1])
