"""Read raw files (JSONL, plain text, parquet) as records, each with its location.

Readers never trust their input: a line that is not UTF-8 or not JSON stops the
step with the file and line in the message, since silently skipping it would
change the corpus without anyone knowing.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from minnow.errors import InputError, at

TEXT_UNITS = ("file", "paragraph", "line")
SUFFIXES = (".jsonl", ".txt", ".parquet")


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{at(path, number)}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                ) from None


def read_jsonl(path: Path) -> Iterator[tuple[dict, str]]:
    for number, line in _decoded_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{at(path, number)}: malformed JSON: {e.msg} at column {e.colno}") from None
        yield record, at(path, number)


def _paragraphs(path: Path) -> Iterator[tuple[dict, str]]:
    buffer, start = [], 1
    for number, line in _decoded_lines(path):
        if line.strip():
            start = start if buffer else number
            buffer.append(line)
        elif buffer:
            yield {"text": "".join(buffer)}, at(path, start)
            buffer = []
    if buffer:
        yield {"text": "".join(buffer)}, at(path, start)


def read_text(path: Path, unit: str = "paragraph") -> Iterator[tuple[dict, str]]:
    """Split a text file into documents: the whole file, blank-line paragraphs, or lines."""
    if unit == "paragraph":
        yield from _paragraphs(path)
    elif unit == "line":
        for number, line in _decoded_lines(path):
            if line.strip():
                yield {"text": line}, at(path, number)
    elif unit == "file":
        text = "".join(line for _, line in _decoded_lines(path))
        if text.strip():
            yield {"text": text}, at(path, 1)
    else:
        raise InputError(f"text_unit must be one of {', '.join(TEXT_UNITS)}, got '{unit}'")


def read_parquet(path: Path) -> Iterator[tuple[dict, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{path}: not a readable parquet file ({e})") from None
    row = 0
    batches = table.iter_batches(batch_size=4096)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as e:  # a damaged row group surfaces only when read
            raise InputError(f"{path}: unreadable after row {row} ({e})") from None
        if batch is None:
            return
        for record in batch.to_pylist():
            row += 1
            yield record, f"{path}:row {row}"


def read_records(path: str | Path, text_unit: str = "paragraph") -> Iterator[tuple[dict, str]]:
    """Records of one raw file, by its suffix, with `file:line` locations."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".txt":
        return read_text(path, text_unit)
    if path.suffix == ".parquet":
        return read_parquet(path)
    raise InputError(f"{path}: unsupported file type '{path.suffix}' (minnow reads {', '.join(SUFFIXES)})")
