"""Content digests of files and values, for manifests, run fingerprints, rerun triggers and MLflow keys."""

import hashlib
import json
import os
from pathlib import Path

CHUNK = 1 << 20
MISSING = "missing"


def content_id(text: str) -> str:
    """Stable document id: the first 16 hex digits of the sha256 of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def json_digest(obj) -> str:
    """Short hash of a JSON-able value (keys sorted): a whole config's, or an MLflow row's identity."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_digests(paths: list[str], cache: str | Path) -> dict[str, str]:
    """The sha256 of each file (or "missing"), by path.

    Rules call this on every Snakemake invocation to put local data files in their
    params, so a digest is reused from `cache` while the file's size and mtime are
    those it was computed for: a multi-GB corpus is hashed once, then only stat()ed.
    """
    return per_file(paths, cache, sha256_file)


def per_file(paths: list[str], cache: str | Path, compute) -> dict[str, object]:
    """`compute(path)` of each file (or "missing"), by path, reused from the JSON file
    `cache` while the file's size and mtime are those it was computed for. The cache is
    rewritten atomically; concurrent writers at worst recompute."""
    cache = Path(cache)
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    values, changed = {}, False
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            values[path] = MISSING
            continue
        key, stamp = str(Path(path).resolve()), [st.st_size, st.st_mtime_ns]
        if known.get(key, [None])[:2] != stamp:
            known[key] = [*stamp, compute(path)]
            changed = True
        values[path] = known[key][2]
    if changed:
        from minnow.atomic import write_json

        write_json(cache, known)
    return values
