"""The prepare_corpus stage: raw sources in, one filtered, deduplicated, mixed corpus out.

A pipeline of small steps over a stream of `Document`s, in two passes so memory
stays flat as the corpus grows:

1. read → normalise → quality filters → exact dedup → near dedup → split;
   survivors are spilled to a temporary parquet file, and only their ids and
   MinHash signatures stay in memory;
2. once each source's surviving size is known, the mix factors are fixed and the
   spill is streamed into `train.parquet` and `val.parquet`, both mixed by the
   same factors so validation measures the distribution training sees; val is
   only ever subsampled (a source upsampled in train keeps its val as it is).

Every step counts what it dropped, per source, in documents and bytes; the
counts become `stats.json`.
"""

import json
import tempfile
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from minnow.atomic import atomic_path, write_json
from minnow.data import mix
from minnow.data.dedup import ExactDedup, NearDedup, content_id
from minnow.data.documents import Document, to_document
from minnow.data.filters import build_filters
from minnow.data.normalize import normalize
from minnow.data.readers import read_records
from minnow.data.split import is_val
from minnow.errors import InputError

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()), ("messages", MESSAGES)])
SPILL = SCHEMA.append(pa.field("val", pa.bool_()))
ROWS = 8192


class RowWriter:
    """Buffers rows and writes them to parquet in row groups."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._writer = pq.ParquetWriter(path, schema)
        self._schema, self._rows = schema, []

    def add(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= ROWS:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self.flush()
        self._writer.close()


class Counter:
    """Documents and bytes per source and per step, as stats.json reports them, and for
    duplicates, how many each source lost to each other source."""

    def __init__(self):
        self.counts = defaultdict(lambda: defaultdict(lambda: {"documents": 0, "bytes": 0}))
        self.duplicates = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, source: str, step: str, text: str, copies: int = 1) -> None:
        entry = self.counts[source][step]
        entry["documents"] += copies
        entry["bytes"] += copies * len(text.encode("utf-8"))

    def duplicate(self, source: str, step: str, original: str) -> None:
        self.duplicates[source][step][original] += 1

    def as_dict(self) -> dict:
        return json.loads(json.dumps(self.counts))

    def describe(self, source: str) -> str:
        """One line of what became of a source, for a message about it:
        `exodus: 40 in, 40 exact duplicates of documents in source 'kjv'`."""
        counts = self.counts[source]
        parts = [f"{counts['in']['documents']} in"]
        for step, entry in counts.items():
            if not step.startswith("dropped_"):
                continue
            reason = step.removeprefix("dropped_")
            if reason in self.duplicates[source]:
                parts += [f"{n} {reason.replace('_', ' ')}s of documents in source '{original}'"
                          for original, n in self.duplicates[source][reason].items()]
            else:
                parts.append(f"{entry['documents']} dropped by the {reason} filter")
        parts += [f"{counts[split]['documents']} to {split.removesuffix('_before_mix')}"
                  for split in ("train_before_mix", "val_before_mix") if split in counts]
        return f"{source}: " + ", ".join(parts)


def read_source(name: str, raw_dir: Path, options: dict):
    """Documents of one downloaded source, in manifest order."""
    manifest = json.loads((Path(raw_dir) / "manifest.json").read_text())
    for entry in manifest["files"]:
        for record, where in read_records(Path(raw_dir) / entry["path"], options["text_unit"]):
            yield to_document(record, name, where, options.get("text_field"))


def _verdict(doc: Document, filters, exact: ExactDedup, near: NearDedup) -> tuple[str | None, str | None]:
    """(why the document is dropped, the source it duplicates), or (None, None) to keep it."""
    failed = next((f.name for f in filters if not f.keep(doc)), None)
    if failed:
        return failed, None
    for dedup, key in ((exact, doc.id), (near, doc.text)):
        original = dedup.original(key, doc.source)
        if original is not None:
            return dedup.name, original
    return None, None


def _scan(spec: dict, raw_dirs: dict, spill: RowWriter, counter: Counter) -> dict[str, int]:
    """Pass 1: filter and dedup every source; return each source's train size."""
    filters = build_filters(spec["filters"])
    exact, near = ExactDedup(), NearDedup(**spec["dedup"])
    train_size = {}
    for name, options in spec["sources"].items():
        train_size[name] = 0
        for raw in read_source(name, raw_dirs[name], options):
            counter.add(name, "in", raw.text)
            doc = normalize(raw, options["lowercase"])
            doc.id = content_id(doc.text)
            dropped, original = _verdict(doc, filters, exact, near)
            if dropped:
                counter.add(name, f"dropped_{dropped}", doc.text)
                if original:
                    counter.duplicate(name, dropped, original)
                continue
            val = is_val(doc.id, spec["val_fraction"], spec["seed"])
            train_size[name] += 0 if val else mix.measure(doc.text, spec["mix_by"])
            counter.add(name, "val_before_mix" if val else "train_before_mix", doc.text)
            spill.add({**_row(doc), "val": val})
        if counter.counts[name]["in"]["documents"] == 0:
            raise InputError(f"source '{name}' ({raw_dirs[name]}) has no documents")
    return train_size


def _row(doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "source": doc.source, "messages": doc.messages}


def _write_splits(spill_path: Path, factors: dict, seed: int, by: str, train: RowWriter, val: RowWriter,
                  counter: Counter) -> dict[str, int]:
    """Pass 2: stream the spill into val and train, each mixed; return train size per source."""
    units = dict.fromkeys(factors, 0)
    for batch in pq.ParquetFile(spill_path).iter_batches(batch_size=ROWS):
        for row in batch.to_pylist():
            factor = factors[row["source"]]
            if row.pop("val"):  # the same mix, but never a repeated document
                if mix.repeats(min(factor, 1.0), seed, row["id"], row["source"]):
                    counter.add(row["source"], "val", row["text"])
                    val.add(row)
                continue
            copies = mix.repeats(factor, seed, row["id"], row["source"])
            counter.add(row["source"], "train", row["text"], copies)
            units[row["source"]] += copies * mix.measure(row["text"], by)
            for _ in range(copies):
                train.add(row)
    return units


def _mix_report(counts: dict, factors: dict, units: dict, by: str) -> dict:
    """Per source: sampling factor, bytes, and share of train in the mix_by unit."""
    total = sum(units.values()) or 1
    return {s: {"factor": round(f, 6), "bytes": counts[s]["train"]["bytes"], by: units[s], "share": units[s] / total}
            for s, f in factors.items()}


def prepare_corpus(spec: dict, raw_dirs: dict, train_out, val_out, stats_out) -> dict:
    """Build train/val parquet and stats.json for one corpus config; return the stats."""
    counter = Counter()
    Path(train_out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(train_out).parent, prefix=".spill-") as tmp:
        spill_path = Path(tmp) / "spill.parquet"
        spill = RowWriter(spill_path, SPILL)
        train_size = _scan(spec, raw_dirs, spill, counter)
        spill.close()
        _check_train_left(train_size, counter)
        weights = {s: o["weight"] for s, o in spec["sources"].items()}
        factors = mix.sampling_factors(train_size, weights, spec.get("total"))
        with atomic_path(train_out) as train_tmp, atomic_path(val_out) as val_tmp:
            train, val = RowWriter(train_tmp, SCHEMA), RowWriter(val_tmp, SCHEMA)
            units = _write_splits(spill_path, factors, spec["seed"], spec["mix_by"], train, val, counter)
            train.close()
            val.close()
    counts = counter.as_dict()
    stats = {"mix_by": spec["mix_by"], "sources": counts, "duplicates": json.loads(json.dumps(counter.duplicates)),
             "mix": _mix_report(counts, factors, units, spec["mix_by"]), "totals": _totals(counts)}
    write_json(stats_out, stats)
    return stats


def _check_train_left(train_size: dict[str, int], counter: Counter) -> None:
    """A source with nothing left for train cannot take its share of the mix: say where it went."""
    empty = [s for s, size in train_size.items() if size == 0]
    if empty:
        lines = "\n  ".join(counter.describe(s) for s in train_size)
        raise InputError(f"no train documents left in source(s) {', '.join(empty)}:\n  {lines}")


def _totals(counts: dict) -> dict:
    totals = defaultdict(lambda: {"documents": 0, "bytes": 0})
    for steps in counts.values():
        for step, entry in steps.items():
            totals[step]["documents"] += entry["documents"]
            totals[step]["bytes"] += entry["bytes"]
    return dict(totals)
