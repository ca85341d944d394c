"""Cutting sources into parts: every record read exactly once, whatever the number of parts."""

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow.data import parts
from minnow.data.readers import read_records


def text_file(path, paragraphs: int, seed: int = 0):
    rng = random.Random(seed)
    chunks = []
    for i in range(paragraphs):
        lines = [f"paragraph {i} line {j} " + "word " * rng.randint(0, 30) for j in range(rng.randint(1, 4))]
        chunks.append("\n".join(lines) + "\n" + "\n" * rng.randint(1, 3) + ("  \n" if rng.random() < 0.2 else ""))
    path.write_text("".join(chunks))
    return path


def read_slices(tmp_path, files, count, whole_text=False, unit="paragraph"):
    """The records each part would read, by copying its slices and reading them back."""
    records = []
    for part in range(count):
        for i, (path, begin, end) in enumerate(parts.byte_slices(files, part, count, whole_text)):
            copy = tmp_path / f"p{part}-{i}{path.suffix}"
            with open(path, "rb") as f:
                f.seek(begin)
                copy.write_bytes(f.read(end - begin))
            records += [r for r, _ in read_records(copy, unit)]
    return records


@pytest.mark.parametrize("count", [1, 2, 3, 7, 40])
def test_text_files_cut_at_paragraphs_read_the_same_documents(tmp_path, count):
    files = [
        text_file(tmp_path / "a.txt", 120, 1),
        text_file(tmp_path / "b.txt", 5, 2),
        text_file(tmp_path / "c.txt", 60, 3),
    ]
    whole = [r for f in files for r, _ in read_records(f, "paragraph")]
    assert read_slices(tmp_path, files, count) == whole
    lines = [r for f in files for r, _ in read_records(f, "line")]
    assert read_slices(tmp_path, files, count, unit="line") == lines


@pytest.mark.parametrize("count", [1, 3, 8])
def test_jsonl_files_cut_at_lines(tmp_path, count):
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps({"text": f"doc {i} " * (i % 13)}) + "\n" for i in range(200)))
    assert read_slices(tmp_path, [path], count, unit="paragraph") == [r for r, _ in read_records(path)]


def test_parquet_and_whole_text_files_are_never_cut(tmp_path):
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(50)]}), tmp_path / "t.parquet")
    text = text_file(tmp_path / "w.txt", 40)
    files = [tmp_path / "t.parquet", text]
    owners = {p: [f for f, _, _ in parts.byte_slices(files, p, 4, whole_text=True)] for p in range(4)}
    assert sorted(f.name for fs in owners.values() for f in fs) == ["t.parquet", "w.txt"]
    assert all(
        begin == 0 and end == f.stat().st_size
        for p in range(4)
        for f, begin, end in parts.byte_slices(files, p, 4, whole_text=True)
    )


def test_more_parts_than_records_leaves_some_parts_empty(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two"}\n')
    slices = [parts.byte_slices([path], p, 5) for p in range(5)]
    assert sum(len(s) for s in slices) == 2


def test_part_counts_default_by_size():
    assert parts.count({"kind": "local", "parts": None}, 300 * 2**20) == 3
    assert parts.count({"kind": "local", "parts": 8}, 10) == 8
    assert parts.count({"kind": "hf", "max_bytes": 10**9}) == 8
    assert parts.count({"kind": "hf"}) == 1
    assert parts.count({"kind": "builtin", "generator": "guppy", "count": 60000}) == 1
    assert parts.index_range(10, 2, 3) == (6, 10)
