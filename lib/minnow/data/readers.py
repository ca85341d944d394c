"""Read raw files (JSONL, plain text, parquet) as records, each with its location.

A text file is read by its corpus's `text_unit`. A book, a play or a code file is
one stream: `stream` (the default) and `file` keep each raw text file whole, byte
for byte, blank lines and all (normalisation then tidies it as it does every
document), so the model reads the paragraph before the one it predicts and learns
where paragraphs break. They differ only in how the download
cuts a large file into parts (`minnow.data.parts`): a `stream` file may be cut at
paragraph starts, each piece then a document, a `file` one never is. `paragraph`
and `line` are for files that really hold a collection of short texts.

Readers never trust their input: a line that is not UTF-8 or not JSON stops the
step with the file and line in the message, since silently skipping it would
change the corpus without anyone knowing.
"""

import json
from collections.abc import Iterator
from pathlib import Path

from minnow.errors import InputError, at

STREAM_UNITS = ("stream", "file")
TEXT_UNITS = (*STREAM_UNITS, "paragraph", "line")
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


def read_text(path: Path, unit: str = "stream") -> Iterator[tuple[dict, str]]:
    """Split a text file into documents: the whole (raw) file, blank-line paragraphs, or lines."""
    if unit == "paragraph":
        yield from _paragraphs(path)
    elif unit == "line":
        for number, line in _decoded_lines(path):
            if line.strip():
                yield {"text": line}, at(path, number)
    elif unit in STREAM_UNITS:
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


def reads_streams(path: str | Path, text_unit: str) -> bool:
    """Whether `read_records` yields this file's documents as streams: text kept whole (or in
    the pieces its parts cut), which filters made for web pages leave alone and a tail split
    may cut at a paragraph."""
    return Path(path).suffix == ".txt" and text_unit in STREAM_UNITS


def read_records(path: str | Path, text_unit: str = "stream") -> Iterator[tuple[dict, str]]:
    """Records of one raw file, by its suffix, with `file:line` locations."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".txt":
        return read_text(path, text_unit)
    if path.suffix == ".parquet":
        return read_parquet(path)
    raise InputError(f"{path}: unsupported file type '{path.suffix}' (minnow reads {', '.join(SUFFIXES)})")
