"""Cutting a source into parts: the pieces the data half runs as parallel Snakemake jobs.

A source is read as `parts` pieces, each one job on a core or a cluster node, so
the data half scales by giving Snakemake more jobs rather than one job more
threads. How a source is cut depends on its kind: a built-in generator by record
index, a Hugging Face dataset by its own files (`datasets`' sharding), and local
files (or the members of a fetched archive) by bytes, at record boundaries.

Byte cuts: the files, in path order, form one stream of T bytes; part p of P owns
the records that *start* in [p*T/P, (p+1)*T/P). A JSON-lines record starts at a
line, a text document at a paragraph (which is also where a line of a `line`
document can start); a parquet file, or a text file some corpus reads with
`text_unit: file`, is not cut and belongs to the part its first byte falls in.
Each part finds its own cut points with the same rule, so the parts tile every
file exactly, and the records a corpus reads do not depend on the number of
parts, but for a `stream` text file: each piece of it is one document, so there
the parts choose where documents end (the text and its order stay the same).
"""

import bisect
import math
import os
from pathlib import Path

PART_BYTES = 128 * 2**20  # the automatic part size
GUPPY_PER_PART = 500_000  # built-in chat records per automatic part (~45 MB)
BACKWARD = 1 << 16


def count(spec: dict, local_bytes: int = 0) -> int:
    """How many parts a source is read as: its `parts`, or one per PART_BYTES of what it
    holds where that is known before reading (local files, an HF byte cap, a generator's
    count); a `url` source's size is known only once fetched, so it defaults to one."""
    if spec.get("parts"):
        return spec["parts"]
    if spec["kind"] == "local":
        return max(1, math.ceil(local_bytes / PART_BYTES))
    if spec["kind"] == "hf" and spec.get("max_bytes"):
        return max(1, math.ceil(spec["max_bytes"] / PART_BYTES))
    if spec["kind"] == "builtin" and spec["generator"] == "guppy":
        return max(1, math.ceil(spec["count"] / GUPPY_PER_PART))
    return 1


def index_range(total: int, part: int, parts: int) -> tuple[int, int]:
    """Records [start, stop) of part `part` when `total` records are cut into `parts`."""
    return total * part // parts, total * (part + 1) // parts


def part_settings(corpus: dict, source: str) -> dict:
    """What a part job (prepare_part) reads of corpus `corpus` (a validated corpora entry)
    for `source`: the source's reading options, the filters and the signature settings
    (not the weights, split or threshold: those are dedup's)."""
    return {
        "options": {k: v for k, v in corpus["sources"][source].items() if k != "weight"},
        "filters": corpus["filters"],
        "signature": {k: corpus["dedup"][k] for k in ("num_perm", "ngram", "seed")},
    }


def _next_line_start(f, x: int) -> int:
    """The first position at or after x where a line starts."""
    if x == 0:
        return 0
    f.seek(x - 1)
    if f.read(1) == b"\n":
        return x
    f.readline()
    return f.tell()


def _blank(line: bytes) -> bool:
    return not line.decode("utf-8", "replace").strip()  # the readers' own test of a blank line


def _line_before_is_blank(f, start: int) -> bool:
    """Whether the line ending just before `start` (a line start) is blank, or there is none."""
    if start == 0:
        return True
    end, collected = start - 1, b""  # end: the newline that ends the line before
    while end > 0:
        begin = max(0, end - BACKWARD)
        f.seek(begin)
        chunk = f.read(end - begin)
        newline = chunk.rfind(b"\n")
        collected = chunk[newline + 1 :] + collected
        if newline >= 0 or begin == 0 or not _blank(collected):
            break
        end = begin
    return _blank(collected)


def next_paragraph_start(f, x: int, size: int) -> int:
    """The first position at or after x where a paragraph (non-blank line after a blank one)
    starts in the binary file `f` of `size` bytes, or `size` if none does (the first non-blank
    line starts one). A tail split cuts a stream document by the same rule (`split.paragraph_start`)."""
    position = _next_line_start(f, x)
    previous_blank = _line_before_is_blank(f, position)
    f.seek(position)
    while line := f.readline():
        if previous_blank and not _blank(line):
            return position
        previous_blank = _blank(line)
        position += len(line)
    return size


def _cut(path: Path, x: int, size: int, unit: str) -> int:
    """The first record start at or after x in the file (its size at or past the end)."""
    if x <= 0:
        return 0
    if x >= size:
        return size
    with open(path, "rb") as f:
        return _next_line_start(f, x) if unit == "line" else next_paragraph_start(f, x, size)


def record_unit(path: Path, whole_text: bool) -> str:
    """How a file may be cut: at lines (JSON lines), paragraphs (text), or not at all."""
    if path.suffix == ".jsonl":
        return "line"
    if path.suffix == ".txt" and not whole_text:
        return "paragraph"
    return "whole"


def byte_slices(files: list[Path], part: int, parts: int, whole_text: bool = False) -> list[tuple[Path, int, int]]:
    """(file, begin, end) byte ranges that part `part` of `parts` reads, in file order."""
    sizes = [os.path.getsize(f) for f in files]
    total = sum(sizes)
    bounds = [total * p // parts for p in range(parts + 1)]
    slices, offset = [], 0
    for path, size in zip(files, sizes, strict=True):
        unit = record_unit(path, whole_text)
        if unit == "whole":
            if bisect.bisect_right(bounds, offset) - 1 == min(part, parts - 1) and size:
                slices.append((path, 0, size))
        else:
            begin = _cut(path, bounds[part] - offset, size, unit)
            end = _cut(path, bounds[part + 1] - offset, size, unit)
            if end > begin:
                slices.append((path, begin, end))
        offset += size
    return slices
