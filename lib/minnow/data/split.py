"""Deterministic train/val split by document id.

A document goes to val when a hash of (seed, id) falls below `val_fraction`, so
the split is the same on every machine and run, and adding documents never moves
existing ones between splits. Near-dedup runs over the whole corpus before the
split, so no near-duplicate of a val document that MinHash LSH detects remains
in train (LSH finds pairs above the threshold with high probability, not always).
"""

import hashlib


def is_val(doc_id: str, val_fraction: float, seed: int) -> bool:
    digest = hashlib.blake2b(f"split:{seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < val_fraction
