"""Exact dedup by content hash and near-dedup by MinHash LSH (rensa).

Near-duplicates are found the standard way (as in datatrove's MinHash stage):
word n-gram shingles, a MinHash signature per document, LSH bands to find
candidates, and the estimated Jaccard similarity to confirm them, so a candidate
that merely shares a band is not dropped. The first document of a cluster is
kept, and a dropped one is told which source the kept one came from, so a
corpus that loses a whole source can say to which. rensa computes signatures in
Rust, several times faster than datasketch.
"""

import hashlib

from rensa import RMinHash, RMinHashLSH

from minnow.data.filters import words


def content_id(text: str) -> str:
    """Stable document id: the first 16 hex digits of the sha256 of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ExactDedup:
    name = "exact_duplicate"

    def __init__(self):
        self._first: dict[str, str] = {}

    def original(self, doc_id: str, source: str) -> str | None:
        """The source of an earlier document with this id; None keeps this one."""
        found = self._first.get(doc_id)
        if found is None:
            self._first[doc_id] = source
        return found


def shingles(text: str, n: int) -> list[str]:
    """Word n-grams; a text shorter than n words is one shingle."""
    w = words(text)
    if len(w) <= n:
        return [" ".join(w)]
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


def lsh_bands(num_perm: int, threshold: float) -> int:
    """Bands b (rows r = num_perm / b) whose S-curve midpoint (1/b)^(1/r) lies just below threshold."""
    options = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    below = [b for b in options if (1 / b) ** (b / num_perm) <= threshold]
    return min(below, key=lambda b: threshold - (1 / b) ** (b / num_perm)) if below else options[-1]


class NearDedup:
    """Drops a document whose Jaccard similarity to a kept one is at least `threshold`."""

    name = "near_duplicate"

    def __init__(self, threshold: float, num_perm: int = 128, ngram: int = 5, seed: int = 0):
        self.threshold, self.num_perm, self.ngram, self.seed = threshold, num_perm, ngram, seed
        self._lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=lsh_bands(num_perm, threshold))
        self._kept: list[tuple[RMinHash, str]] = []

    def signature(self, text: str) -> RMinHash:
        m = RMinHash(num_perm=self.num_perm, seed=self.seed)
        m.update(shingles(text, self.ngram))
        return m

    def original(self, text: str, source: str) -> str | None:
        """The source of a kept document this one nearly duplicates; None keeps this one."""
        m = self.signature(text)
        for key in self._lsh.query(m):
            kept, kept_source = self._kept[key]
            if kept.jaccard(m) >= self.threshold:
                return kept_source
        self._lsh.insert(len(self._kept), m)
        self._kept.append((m, source))
        return None
