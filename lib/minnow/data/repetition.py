"""Gopher's repetition statistics (Rae et al., 2021, table A1), computed on word hashes.

The verdicts are those of datatrove's `GopherRepetitionFilter` (the tests check
them against it on real text): a document is dropped when too many of its lines
or paragraphs repeat, when its most frequent 2-, 3- or 4-gram covers too many of
its characters, or when repeated 5- to 10-grams do. datatrove builds every n-gram
as a Python string; here an n-gram is a 64-bit rolling hash of its words' hashes
(numpy, one array operation per n), so the statistics cost a few array passes and
a short loop over the positions that do repeat. Two differences, both rare and
both toward keeping: datatrove compares repeated n-grams by their words joined
without spaces ("ab c" equals "a bc" there) and any two hashes could collide.
"""

import bisect
import re

import numpy as np

from minnow.data.word_hashes import ngrams

PARAGRAPHS = re.compile(r"\n{2,}")
LINES = re.compile("\n+")


def _duplicates(parts: list[str]) -> tuple[int, int]:
    """How many parts repeat an earlier one, and their characters (datatrove's find_duplicates)."""
    seen, count, chars = set(), 0, 0
    for part in parts:
        if part in seen:
            count, chars = count + 1, chars + len(part)
        else:
            seen.add(part)
    return count, chars


def top_ngram_chars(grams: np.ndarray, prefix: np.ndarray, n: int) -> int:
    """Characters covered by the most frequent n-gram, its words joined by spaces, times its
    count; among equally frequent ones the first to occur (as Counter.most_common(1))."""
    _, first, counts = np.unique(grams, return_index=True, return_counts=True)
    top = counts.max()
    start = int(first[counts == top].min())
    return int(prefix[start + n] - prefix[start] + n - 1) * int(top)


def repeated_ngram_chars(grams: np.ndarray, prefix: np.ndarray, n: int) -> int:
    """Characters of repeated n-grams, counted as datatrove's find_all_duplicate does: scan
    left to right, remember each n-gram seen, and on a repeat count it and jump past it (the
    n positions it covers are never remembered). Only positions whose n-gram occurred
    earlier can repeat, so the loop visits those alone."""
    _, inverse, counts = np.unique(grams, return_inverse=True, return_counts=True)
    if counts.max() == 1:
        return 0
    order = np.lexsort((np.arange(len(grams)), inverse))  # positions grouped by n-gram, in order
    starts = np.r_[0, np.cumsum(counts)]
    first_of_group = order[starts[:-1]]
    candidates = np.flatnonzero(first_of_group[inverse] < np.arange(len(grams)))
    total, resume, skipped = 0, 0, []  # skipped: starts of the n-wide windows never remembered
    for k in candidates.tolist():
        if k < resume:
            continue
        group = inverse[k]
        for p in order[starts[group] : starts[group + 1]].tolist():
            if p >= k:
                break
            w = bisect.bisect_right(skipped, p) - 1
            if w < 0 or p >= skipped[w] + n:  # an earlier occurrence that was remembered
                total += int(prefix[k + n] - prefix[k])
                skipped.append(k)
                resume = k + n
                break
    return total


def passes(
    text: str,
    lengths: np.ndarray,
    hashes: np.ndarray,
    dup_line_frac,
    dup_para_frac,
    top_n_grams: dict,
    dup_n_grams: dict,
) -> bool:
    """Whether `text`, with its words' lengths and hashes, passes the checks whose thresholds are
    given (a None or empty one is skipped), in datatrove's order."""
    if not text:
        return False
    for splitter, frac in ((PARAGRAPHS, dup_para_frac), (LINES, dup_line_frac)):
        if frac is not None:
            parts = splitter.split(text.strip() if splitter is PARAGRAPHS else text)
            if _duplicates(parts)[0] / len(parts) > frac:
                return False
    prefix = np.r_[0, np.cumsum(lengths)]
    top = {int(n): frac for n, frac in top_n_grams.items()}
    duplicated = {int(n): frac for n, frac in dup_n_grams.items()}
    repeats = True  # a repeated n-gram implies a repeated (n-1)-gram: none at n, none above
    for n, grams in ngrams(hashes, min(max([*top, *duplicated], default=0), len(hashes))):
        if n in top and top_ngram_chars(grams, prefix, n) / len(text) > top[n]:
            return False
        if n in duplicated and repeats:
            chars = repeated_ngram_chars(grams, prefix, n)
            if chars / len(text) > duplicated[n]:
                return False
            repeats = chars > 0  # the first repeat is always counted: 0 means none
    return True
