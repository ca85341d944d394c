"""The train/val split, by one of two rules (`val_split`).

- `hash` (the default): a document goes to val when a hash of (seed, id) falls below
  `val_fraction`, so the split is the same on every machine and run, and adding
  documents never moves existing ones between splits.
- `tail`: the last `val_fraction` of each source's text, in reading order, is held
  out, as nanoGPT holds out the end of Tiny Shakespeare, so a single-file corpus
  compares directly with numbers published that way. It reads higher than `hash`
  on such a file: a hashed val speech comes from a play whose other speeches are
  in train; the tail is a play (or two) the model never read.

The tail begins at byte (1 - val_fraction) * total of the source, and usually inside
a document. A stream (a text file kept whole, `readers.reads_streams`) is cut
there, at the first paragraph start at or after that byte: its head stays in train,
its tail goes to val, each piece a document with its own content id, and the cut
falls after a newline, so no character is split. Any other document (a record, a
paragraph, a stream with no paragraph after that byte) is not cut: it stays in
train and val begins with the next document.

Near-dedup runs over the whole corpus before the split, so no near-duplicate of a
val document that MinHash LSH detects remains in train (LSH finds pairs above the
threshold with high probability, not always). A stream cut in two was deduplicated
whole: its head and tail are one document's two halves, as in nanoGPT's split.
"""

import hashlib
import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from minnow.data.parts import next_paragraph_start


def is_val(doc_id: str, val_fraction: float, seed: int) -> bool:
    digest = hashlib.blake2b(f"split:{seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < val_fraction


@dataclass(frozen=True)
class Boundary:
    """Where a source's tail begins, in terms of its documents (indices into the keys' arrays)."""

    holder: int  # the document holding the tail's first byte
    offset: int  # that byte's offset in the holder's UTF-8 text (0: the tail begins with it)
    following: int | None  # the next document in reading order, if any


def tail_boundaries(
    sources: np.ndarray, parts: np.ndarray, rows: np.ndarray, sizes: np.ndarray, val_fraction: float
) -> dict[int, Boundary]:
    """Per source index, the document holding byte (1 - val_fraction) * total of its text in
    reading order (part, row); a source whose documents are all empty has none."""
    boundaries = {}
    for source in np.unique(sources):
        mine = np.flatnonzero(sources == source)
        mine = mine[np.lexsort((rows[mine], parts[mine]))]  # reading order
        ends = np.cumsum(sizes[mine])
        first = math.ceil((1 - Fraction(val_fraction)) * int(ends[-1]))  # exact: no float rounding
        k = int(np.searchsorted(ends, first, side="right"))  # the first document ending past it
        if k < len(mine):
            following = int(mine[k + 1]) if k + 1 < len(mine) else None
            boundaries[int(source)] = Boundary(int(mine[k]), first - int(ends[k] - sizes[mine[k]]), following)
    return boundaries


def paragraph_start(text: str, offset: int) -> int | None:
    """The UTF-8 byte offset of the first paragraph start (a non-blank line after a blank one) at
    or after `offset` in `text`, by the rule the parts cut text files with; None if there is none."""
    data = text.encode("utf-8")
    at = next_paragraph_start(io.BytesIO(data), offset, len(data))
    return at if at < len(data) else None


def cut(text: str, at: int) -> tuple[str, str]:
    """`text` cut at UTF-8 byte `at` (a line start, so no character is split): (head, tail)."""
    data = text.encode("utf-8")
    return data[:at].decode("utf-8"), data[at:].decode("utf-8")


def tail_start(part: int, row: int, byte: int = 0) -> dict:
    """A source's tail as the plan records it: the document (part, row) it begins in, and the
    byte of that document's text where it begins (0: the whole document)."""
    return {"part": part, "row": row, "byte": byte}


def in_tail(part: int, row: int, start: dict | None) -> bool:
    """Whether the document at (part, row) goes to val whole: it comes after the one the tail
    begins in, or is that one and the tail begins at its first byte."""
    if start is None:
        return False
    here, first = (part, row), (start["part"], start["row"])
    return here > first or (here == first and start["byte"] == 0)


def is_cut(part: int, row: int, start: dict | None) -> bool:
    """Whether the document at (part, row) is the stream the tail begins inside."""
    return start is not None and (part, row) == (start["part"], start["row"]) and start["byte"] > 0
