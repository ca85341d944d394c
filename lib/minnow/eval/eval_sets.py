"""Evaluation sets: the exact documents every model, ours and the references, is scored on.

An eval set is a list of documents, written once as JSON lines (one `{"text": ...}`
per document, so no boundary is ambiguous) beside a small JSON that says where it
came from, how many documents and bytes it holds, the byte cap and its sha256, so
ppl.json can state precisely what was measured. Each model scores each document on
its own (`perplexity`). Sets are capped in bytes (reference models are slow on a
CPU); the cap cuts at a document boundary so no document is scored half, except a
single document longer than the cap (a book), which is cut at a character and
marked `capped`.

Kinds: `corpus_val` (a corpus's val split in id order: ids are content hashes, so a
fixed shuffle), `local` (a file: a `.txt` is one document unless its `text_unit`
says paragraph or line; a `.jsonl` or parquet file is a document per record) and
`hf` (a dataset split through `datasets`, a document per non-blank row of
`text_field`, or, with `document_start`, rows joined into documents that begin at
each row matching that regex: WikiText's rows are lines, its pages begin at " = Title = ").
"""

import json
import re
from pathlib import Path

from minnow.atomic import atomic_path, write_json
from minnow.digests import sha256_file
from minnow.errors import InputError


def corpus_val(parquets: list[Path]):
    """Val documents of every part in id order: ids are content hashes, so this is a
    fixed shuffle, and a capped set samples every source, whatever the parts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p, columns=["id", "text"]) for p in parquets]).sort_by("id")
    yield from table.column("text").to_pylist()


def _local(spec: dict):
    from minnow.data.documents import to_document
    from minnow.data.readers import read_records

    path = Path(spec["path"])
    if not path.is_file():
        raise InputError(f"eval set file {path} does not exist")
    for record, where in read_records(path, spec.get("text_unit", "file")):
        yield to_document(record, str(path), where, spec.get("text_field")).text


def _hf_rows(spec: dict):
    from minnow.data.hf import records

    field = spec.get("text_field", "text")
    for record in records(spec):
        value = record.get(field)
        if not isinstance(value, str):
            raise InputError(
                f"HF eval set '{spec['path']}': text_field '{field}' is {type(value).__name__}, not text "
                f"(fields: {', '.join(map(str, record))})"
            )
        yield value


def _pages(rows, start: str):
    """Rows joined as they are into documents, a new one at each row that matches `start`:
    WikiText's rows are lines, and a page begins at its " = Title = " line."""
    pattern, page = re.compile(start), []
    for row in rows:
        if page and pattern.match(row):
            yield "".join(page)
            page = []
        page.append(row)
    if page:
        yield "".join(page)


def _hf(spec: dict):
    rows = _hf_rows(spec)
    documents = _pages(rows, spec["document_start"]) if spec.get("document_start") else rows
    yield from (doc for doc in documents if doc.strip())


def read_documents(path: str | Path) -> list[str]:
    """An eval set's documents exactly as stored."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def capped(documents, max_bytes: int) -> tuple[list[str], bool]:
    """Documents while their bytes stay within `max_bytes`, and whether any was left out.
    A first document longer than the cap is cut at a character boundary."""
    kept, size = [], 0
    for doc in documents:
        add = len(doc.encode("utf-8"))
        if size + add > max_bytes:
            if not kept:
                kept.append(doc.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"))
            return kept, True
        kept.append(doc)
        size += add
    return kept, False


def build(name: str, spec: dict, val_parts: list[Path], out: Path, meta_out: Path, max_bytes: int) -> dict:
    """Write eval set `name`'s documents to `out` (JSON lines) and its description to
    meta_out (a corpus's val set is read from `val_parts`)."""
    documents = {"corpus_val": lambda: corpus_val(val_parts), "local": lambda: _local(spec), "hf": lambda: _hf(spec)}
    kept, was_capped = capped(documents[spec["kind"]](), max_bytes)
    if not any(doc.strip() for doc in kept):
        raise InputError(f"eval set '{name}' is empty ({spec})")
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": doc}, ensure_ascii=False) + "\n" for doc in kept)
    meta = {
        "name": name,
        "spec": spec,
        "documents": len(kept),
        "bytes": sum(len(doc.encode("utf-8")) for doc in kept),
        "max_bytes": max_bytes,
        "capped": was_capped,
        "sha256": sha256_file(out),
    }
    write_json(meta_out, meta)
    return meta
