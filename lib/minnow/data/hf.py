"""Hugging Face datasets as a source: streamed through `datasets`, capped, saved as parquet.

Streaming means a capped sample of a multi-terabyte dataset (FineWeb-Edu, say)
costs only what is kept. The cap is in documents or bytes of text, whichever
comes first, so a config states exactly how much data a run saw.
"""

from pathlib import Path

from minnow.errors import InputError

BATCH = 2048


def _load(spec: dict):
    import datasets

    kwargs = {k: spec[k] for k in ("name", "split", "revision", "data_files") if spec.get(k) is not None}
    try:
        return datasets.load_dataset(spec["path"], streaming=spec.get("streaming", True), **kwargs)
    except Exception as e:  # datasets raises many types: missing files, hub errors, bad splits
        raise InputError(f"cannot load HF dataset '{spec['path']}' ({type(e).__name__}: {e})") from None


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


def stream_to_parquet(spec: dict, out: Path) -> int:
    """Write the capped records of the dataset `spec` names to `out`; return how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = _capped(iter(_load(spec)), spec.get("max_documents"), spec.get("max_bytes"))
    writer, batch, count = None, [], 0
    try:
        for record in records:
            batch.append(record)
            if len(batch) == BATCH:
                writer = _write(writer, batch, out, pa, pq)
                count, batch = count + len(batch), []
        if batch or writer is None:
            writer = _write(writer, batch, out, pa, pq)
            count += len(batch)
    finally:
        if writer is not None:
            writer.close()
    return count


def _write(writer, batch: list[dict], out: Path, pa, pq):
    table = pa.Table.from_pylist(batch, schema=writer.schema if writer else None)
    if writer is None:
        writer = pq.ParquetWriter(out, table.schema)
    writer.write_table(table)
    return writer
