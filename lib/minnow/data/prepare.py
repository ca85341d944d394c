"""The prepare_part step: one part of one source, read, normalised, filtered and keyed for dedup.

The first of the corpus stage's three steps (prepare_part → dedup → mix_part),
run once per part of every source, in parallel. It streams the part's raw files
through a pipeline of small steps (read → normalise → quality filters) and
writes, in read order:

- the survivors: `id` (content hash), `text`, `source`, `messages`;
- their keys, all the global `dedup` step reads (never the text): row, id, bytes,
  words (the mix's token measure), whether it is a stream (a text file kept whole,
  which a tail split may cut) and the MinHash signature;
- stats: documents and bytes in, dropped by each filter, and skipped by each
  filter that leaves streams alone (`minnow.data.filters`).

Memory holds one batch of documents, whatever the part's size.
"""

import json
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from minnow.atomic import atomic_path, write_json
from minnow.data.documents import Document, to_document
from minnow.data.filters import build_filters, words
from minnow.data.minhash import signatures
from minnow.data.normalize import normalize
from minnow.data.readers import read_records, reads_streams
from minnow.data.word_hashes import hash_words
from minnow.digests import content_id

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("messages", MESSAGES)])
BATCH = 4096


def keys_schema(num_perm: int) -> pa.Schema:
    return pa.schema(
        [
            ("row", pa.int64()),
            ("id", pa.string()),
            ("bytes", pa.int64()),
            ("words", pa.int64()),
            ("stream", pa.bool_()),
            ("signature", pa.binary(4 * num_perm)),
        ]
    )


class PartStepCounts:
    """Documents and bytes of one part per step (in, dropped or skipped by each filter), as the
    part's stats.json reports them."""

    def __init__(self):
        self.steps = defaultdict(lambda: {"documents": 0, "bytes": 0})

    def add(self, step: str, text: str) -> None:
        self.steps[step]["documents"] += 1
        self.steps[step]["bytes"] += len(text.encode("utf-8"))

    def as_dict(self) -> dict:
        return {"in": {"documents": 0, "bytes": 0}, **json.loads(json.dumps(self.steps))}


def read_source(name: str, raw_dir: Path, options: dict):
    """Documents of one downloaded part, in manifest order."""
    manifest = json.loads((Path(raw_dir) / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = Path(raw_dir) / entry["path"]
        stream = reads_streams(path, options["text_unit"])
        for record, where in read_records(path, options["text_unit"]):
            doc = to_document(record, name, where, options.get("text_field"))
            doc.stream = stream
            yield doc


def _batches(docs, size: int = BATCH):
    batch = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _normalised(raw: list[Document], lowercase: bool) -> list[Document]:
    """The batch normalised, each with its id, words and word hashes."""
    docs = [normalize(d, lowercase) for d in raw]
    for doc in docs:
        doc.id, doc.words = content_id(doc.text), words(doc.text)
    for doc, hashes in zip(docs, hash_words([d.words for d in docs]), strict=True):
        doc.word_hashes = hashes
    return docs


def _failed(doc: Document, filters, counts: PartStepCounts) -> str | None:
    """The first filter that drops `doc`, or None. A stream passes the filters not made for
    streams unjudged, and each counts it as skipped, so stats.json shows what was not applied."""
    for f in filters:
        if doc.stream and not f.for_streams:
            counts.add(f"skipped_{f.name}", doc.text)
        elif not f.keep(doc):
            return f.name
    return None


def _kept(docs: list[Document], filters, counts: PartStepCounts) -> list[Document]:
    """The documents that pass every filter (the first that fails is counted)."""
    kept = []
    for doc in docs:
        counts.add("in", doc.text)
        failed = _failed(doc, filters, counts)
        if failed:
            counts.add(f"dropped_{failed}", doc.text)
        else:
            kept.append(doc)
    return kept


def _write_batch(batch: list[Document], first_row: int, survivors, keys, dedup: dict) -> None:
    if not batch:
        return
    sigs = signatures([d.word_hashes for d in batch], dedup["num_perm"], dedup["ngram"], dedup["seed"])
    survivors.write_table(
        pa.Table.from_pylist(
            [{"id": d.id, "text": d.text, "source": d.source, "messages": d.messages} for d in batch], schema=SCHEMA
        )
    )
    keys.write_table(
        pa.table(
            {
                "row": pa.array(range(first_row, first_row + len(batch)), pa.int64()),
                "id": [d.id for d in batch],
                "bytes": [len(d.text.encode("utf-8")) for d in batch],
                "words": [len(d.words) for d in batch],
                "stream": [d.stream for d in batch],
                "signature": pa.array([s.tobytes() for s in sigs], pa.binary(4 * dedup["num_perm"])),
            },
            schema=keys.schema,
        )
    )


def prepare_part(
    source: str,
    raw_dir: Path,
    options: dict,
    filters: dict,
    dedup: dict,
    survivors_out: Path,
    keys_out: Path,
    stats_out: Path,
) -> dict:
    """Filter one raw part of `source` into survivors, dedup keys and stats; return the stats.
    `options`: the source's reading options in the corpus (lowercase, text_unit, text_field);
    `dedup`: num_perm, ngram and seed of the signatures."""
    counts, rows, chain = PartStepCounts(), 0, build_filters(filters)
    with (
        atomic_path(survivors_out) as surv_tmp,
        atomic_path(keys_out) as keys_tmp,
        pq.ParquetWriter(surv_tmp, SCHEMA) as survivors,
        pq.ParquetWriter(keys_tmp, keys_schema(dedup["num_perm"])) as keys,
    ):
        for raw in _batches(read_source(source, raw_dir, options)):
            kept = _kept(_normalised(raw, options["lowercase"]), chain, counts)
            _write_batch(kept, rows, survivors, keys, dedup)
            rows += len(kept)
    stats = {"source": source, "raw": str(raw_dir), "kept": rows, "steps": counts.as_dict()}
    write_json(stats_out, stats)
    return stats
