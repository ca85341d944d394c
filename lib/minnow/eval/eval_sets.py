"""Evaluation texts: the exact bytes every model, ours and the references, is scored on.

An eval set is written once to a UTF-8 text file beside a small JSON that says
where it came from, how many documents and bytes it holds, the byte cap and its
sha256, so ppl.json can state precisely what was measured. Sets are capped in
bytes (reference models are slow on a CPU); the cap cuts at a document boundary
so no document is scored half, except a single document longer than the cap (a
local file, say), which is cut at a character and marked `capped`.

Kinds: `corpus_val` (a corpus's val split in id order, documents joined by a blank line),
`local` (a text file, as is) and `hf` (a dataset split through `datasets`, rows
of `text_field` joined by a blank line, as Hugging Face's perplexity guide does
for WikiText).
"""

from pathlib import Path

from minnow.atomic import atomic_path, write_json
from minnow.digests import sha256_file
from minnow.errors import InputError

JOINER = "\n\n"


def _corpus_val(parquets: list[Path]):
    """Val documents of every part in id order: ids are content hashes, so this is a
    fixed shuffle, and a capped set samples every source, whatever the parts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p, columns=["id", "text"]) for p in parquets]).sort_by("id")
    yield from table.column("text").to_pylist()


def _local(spec: dict):
    path = Path(spec["path"])
    try:
        yield path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"eval set file {path} does not exist") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid UTF-8 (byte offset {e.start})") from None


def _hf(spec: dict):
    from minnow.data.hf import records

    field = spec.get("text_field", "text")
    for record in records(spec):
        value = record.get(field)
        if not isinstance(value, str):
            raise InputError(
                f"HF eval set '{spec['path']}': text_field '{field}' is {type(value).__name__}, not text "
                f"(fields: {', '.join(map(str, record))})"
            )
        if value.strip():
            yield value


def read_text(path: str | Path) -> str:
    """An eval text exactly as stored (no newline translation), so bytes match its sha256."""
    return Path(path).read_bytes().decode("utf-8")


def capped(documents, max_bytes: int) -> tuple[str, int, bool]:
    """Documents joined until the next would pass `max_bytes`; (text, documents, capped).
    A first document longer than the cap is cut at a character boundary."""
    parts, size = [], 0
    for doc in documents:
        add = len(doc.encode("utf-8")) + (len(JOINER) if parts else 0)
        if size + add > max_bytes:
            if not parts:
                parts.append(doc.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"))
            return JOINER.join(parts), len(parts), True
        parts.append(doc)
        size += add
    return JOINER.join(parts), len(parts), False


def build(name: str, spec: dict, val_parts: list[Path], text_out: Path, meta_out: Path, max_bytes: int) -> dict:
    """Write eval set `name` to text_out and its description to meta_out (a corpus's val
    set is read from `val_parts`)."""
    documents = {"corpus_val": lambda: _corpus_val(val_parts), "local": lambda: _local(spec), "hf": lambda: _hf(spec)}
    text, count, was_capped = capped(documents[spec["kind"]](), max_bytes)
    if not text.strip():
        raise InputError(f"eval set '{name}' is empty ({spec})")
    with atomic_path(text_out) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
    meta = {
        "name": name,
        "spec": spec,
        "documents": count,
        "bytes": len(text.encode("utf-8")),
        "max_bytes": max_bytes,
        "capped": was_capped,
        "sha256": sha256_file(text_out),
    }
    write_json(meta_out, meta)
    return meta
