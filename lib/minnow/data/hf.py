"""Hugging Face datasets as a source: streamed through `datasets`, capped, saved as parquet.

Streaming means a capped sample of a multi-terabyte dataset (FineWeb-Edu, say)
costs only what is kept. The cap is in documents or bytes of text, whichever
comes first, so a config states exactly how much data a run saw. A source read
as several parts gives each part the dataset's own files `datasets` assigns it
(`shard`, contiguous), so a part job streams only those, and an equal share of
each cap.
"""

import math
from pathlib import Path

from minnow.errors import InputError

BATCH = 2048


def _load(spec: dict):
    import datasets

    kwargs = {k: spec[k] for k in ("name", "split", "revision", "data_files") if spec.get(k) is not None}
    try:
        dataset = datasets.load_dataset(spec["path"], streaming=spec.get("streaming", True), **kwargs)
    except StopIteration:  # what datasets raises when inferring features from no data at all
        raise InputError(f"HF dataset '{spec['path']}' has no records (empty files, or no data file matched)") from None
    except Exception as e:  # datasets raises many types: missing files, hub errors, bad splits
        raise InputError(f"cannot load HF dataset '{spec['path']}' ({type(e).__name__}: {e})") from None
    if isinstance(dataset, dict):  # a DatasetDict: iterating it would yield split names, not records
        raise InputError(f"HF dataset '{spec['path']}' has splits {', '.join(dataset)}; set `split` to one of them")
    return dataset


def _part(dataset, spec: dict, part: int, parts: int):
    """Part `part` of `parts`: a streamed dataset's files, or a loaded one's rows, in contiguous runs."""
    if parts == 1:
        return dataset
    files = getattr(dataset, "num_shards", None)
    if spec.get("streaming", True) and files is not None and parts > files:
        raise InputError(
            f"HF dataset '{spec['path']}' streams from {files} file(s), too few for parts: {parts}; "
            f"set parts to at most {files}"
        )
    return dataset.shard(num_shards=parts, index=part, contiguous=True)


def records(spec: dict, part: int = 0, parts: int = 1):
    """The dataset's records (of one part), with errors raised while iterating turned into InputError.

    A streamed dataset opens and parses its files only when iterated, so a
    malformed line or an unreachable shard surfaces here, after load_dataset
    has returned without complaint.
    """
    records = iter(_part(_load(spec), spec, part, parts))
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except Exception as e:  # as in _load: parse errors, network errors, cast errors
            raise InputError(f"HF dataset '{spec['path']}': reading failed ({type(e).__name__}: {e})") from None
        yield record


def _text_bytes(record: dict) -> int:
    return sum(len(v.encode("utf-8")) for v in record.values() if isinstance(v, str))


def _capped(records, max_documents: int | None, max_bytes: int | None):
    total = 0
    for n, record in enumerate(records):
        if max_documents is not None and n >= max_documents:
            return
        total += _text_bytes(record)
        yield record
        if max_bytes is not None and total >= max_bytes:
            return


def _share(cap: int | None, parts: int) -> int | None:
    return None if cap is None else math.ceil(cap / parts)


def stream_to_parquet(spec: dict, out: Path, part: int = 0, parts: int = 1) -> int:
    """Write the capped records of (part `part` of `parts` of) the dataset `spec` names to
    `out`; return how many.

    A dataset yielding nothing is an error, not an empty parquet file: a source
    with no documents is always a wrong path, filter or cap. On any failure `out`
    is removed, so no half-written file is left behind.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    capped = _capped(
        records(spec, part, parts), _share(spec.get("max_documents"), parts), _share(spec.get("max_bytes"), parts)
    )
    writer, batch, count, done = None, [], 0, False
    try:
        for record in capped:
            batch.append(record)
            if len(batch) == BATCH:
                writer = _write(writer, batch, out, pa, pq)
                count, batch = count + len(batch), []
        if batch:
            writer = _write(writer, batch, out, pa, pq)
            count += len(batch)
        if count == 0:
            raise InputError(f"HF dataset '{spec['path']}' yielded no records (check split, data_files and caps)")
        done = True
    finally:
        if writer is not None:
            writer.close()
        if not done:
            out.unlink(missing_ok=True)
    return count


def _write(writer, batch: list[dict], out: Path, pa, pq):
    """Append `batch` to `out`; the first batch fixes the column types for the whole file."""
    try:
        table = pa.Table.from_pylist(batch, schema=writer.schema if writer else None)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:  # e.g. a field int in one record, text in a later one
        fixed = f" fixed by the first {BATCH} records" if writer else ""
        raise InputError(f"records do not fit one set of column types{fixed} ({e})") from None
    if writer is None:
        writer = pq.ParquetWriter(out, table.schema)
    writer.write_table(table)
    return writer
