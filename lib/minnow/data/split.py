"""The train/val split, by one of two rules (`val_split`).

- `hash` (the default): a document goes to val when a hash of (seed, id) falls below
  `val_fraction`, so the split is the same on every machine and run, and adding
  documents never moves existing ones between splits.
- `tail`: the last `val_fraction` of each source's text, in reading order, is held
  out, as nanoGPT holds out the end of Tiny Shakespeare, so a single-file corpus
  compares directly with numbers published that way. It reads higher than `hash`
  on such a file: a hashed val speech comes from a play whose other speeches are
  in train; the tail is a play (or two) the model never read.

Near-dedup runs over the whole corpus before the split, so no near-duplicate of a
val document that MinHash LSH detects remains in train (LSH finds pairs above the
threshold with high probability, not always).
"""

import hashlib

import numpy as np


def is_val(doc_id: str, val_fraction: float, seed: int) -> bool:
    digest = hashlib.blake2b(f"split:{seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < val_fraction


def tail_starts(
    sources: np.ndarray, parts: np.ndarray, rows: np.ndarray, sizes: np.ndarray, val_fraction: float
) -> dict[int, tuple[int, int] | None]:
    """Per source index, the (part, row) at which its last `val_fraction` of bytes begins
    (the first document that starts there or later), or None if no document does."""
    starts = {}
    for source in np.unique(sources):
        mine = np.flatnonzero(sources == source)
        mine = mine[np.lexsort((rows[mine], parts[mine]))]  # reading order
        before = np.cumsum(sizes[mine]) - sizes[mine]
        held = np.flatnonzero(before >= (1 - val_fraction) * sizes[mine].sum())
        starts[int(source)] = (int(parts[mine[held[0]]]), int(rows[mine[held[0]]])) if len(held) else None
    return starts


def in_tail(part: int, row: int, start: tuple[int, int] | None) -> bool:
    return start is not None and (part, row) >= tuple(start)
