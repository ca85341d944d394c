"""Evaluation sets: the exact documents every model, ours and the references, is scored on.

An eval set is a list of documents, written once as JSON lines (one `{"text": ...}`
per document, so no boundary is ambiguous, with its `source` where it has one) beside
a small JSON that says where it came from, how many documents and bytes it holds (in
total and per source), the byte cap and its sha256, so ppl.json can state precisely
what was measured. Each model scores each document on its own (`perplexity`). Sets
are capped in bytes (reference models are slow on a CPU); the cap cuts at a document
boundary so no document is scored half, except a single document longer than the
cap (a book), which is cut at a character and marked `capped`.

Kinds: `corpus_heldout` (a corpus's held-out documents, each source's in id order and
capped on its own: ids are content hashes, so a fixed shuffle; not thinned by the
mix, so a source with a small weight is scored on as much as any other), `local` (a
file: a `.txt` is one document unless its `text_unit` says paragraph or line; a
`.jsonl` or parquet file is a document per record) and
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


def corpus_heldout(parquets: list[Path], max_bytes: int) -> list[tuple[str, list[str], bool]]:
    """(source, documents, whether capped) of each source in the held-out parts, in the
    parts' order: its documents in id order (content hashes: a fixed shuffle, the same
    whatever the parts), capped at `max_bytes` on its own."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p, columns=["id", "text", "source"]) for p in parquets])
    sources = list(dict.fromkeys(table.column("source").to_pylist()))
    by_source = {s: table.filter(pc.equal(table["source"], s)).sort_by("id") for s in sources}
    return [(s, *capped(t.column("text").to_pylist(), max_bytes)) for s, t in by_source.items()]


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
    return [row["text"] for row in _rows(path)]


def read_sources(path: str | Path) -> list[str] | None:
    """The source of each of an eval set's documents, or None for a set without sources."""
    sources = [row.get("source") for row in _rows(path)]
    return sources if sources and all(sources) else None


def _rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


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


def build(name: str, spec: dict, heldout_parts: list[Path], out: Path, meta_out: Path, max_bytes: int) -> dict:
    """Write eval set `name`'s documents to `out` (JSON lines) and its description to
    meta_out (a corpus's held-out set is read from `heldout_parts`)."""
    if spec["kind"] == "corpus_heldout":
        groups = corpus_heldout(heldout_parts, max_bytes)
    else:
        read = {"local": _local, "hf": _hf}[spec["kind"]]
        groups = [(None, *capped(read(spec), max_bytes))]
    rows = [{"text": doc, **({"source": source} if source else {})} for source, docs, _ in groups for doc in docs]
    if not any(row["text"].strip() for row in rows):
        raise InputError(f"eval set '{name}' is empty ({spec})")
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    meta = {"name": name, "spec": spec, **_size(docs for _, docs, _ in groups)}
    meta |= {"max_bytes": max_bytes, "capped": any(cut for *_, cut in groups), "sha256": sha256_file(out)}
    if groups[0][0]:
        meta["by_source"] = {source: {**_size([docs]), "capped": cut} for source, docs, cut in groups}
    write_json(meta_out, meta)
    return meta


def _size(groups) -> dict:
    docs = [doc for group in groups for doc in group]
    return {"documents": len(docs), "bytes": sum(len(doc.encode("utf-8")) for doc in docs)}
