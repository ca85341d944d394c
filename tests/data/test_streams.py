"""A text file is one stream: read whole, left alone by the web-page filters, cut by a tail split
at a paragraph. Each corpus here is built the way the workflow builds it (download's parts,
then prepare_part, dedup and mix_part), with the schema's defaults."""

import json
import random
import re

import pyarrow.parquet as pq
import pytest

from minnow.data.documents import Document
from minnow.data.download import download
from minnow.data.filters import RepetitionFilter
from minnow.data.normalize import normalize_text
from minnow.data.pipeline import build_corpus
from minnow.data.readers import read_records, reads_streams
from minnow.data.split import is_val
from minnow.digests import content_id
from minnow.errors import InputError
from minnow.workflow.config import with_defaults

SPEAKERS = ["ROMEO", "JULIET", "First Citizen", "MENENIUS", "All"]


def play(speeches: int, seed: int = 0) -> str:
    """A play laid out as Tiny Shakespeare is: "NAME:" then a line or two, speeches apart by a
    blank line; some words are not ASCII, so bytes and characters differ."""
    rng = random.Random(seed)
    words = [f"{w}{i}" for w in ("thou", "fair", "mercy", "naïve", "œil", "night") for i in range(50)]
    speech = [
        f"{rng.choice(SPEAKERS)}:\n" + "\n".join(" ".join(rng.choices(words, k=8)) for _ in range(rng.randint(1, 2)))
        for _ in range(speeches)
    ]
    return "\n\n".join(speech) + "\n"


def prose(paragraphs: int, seed: int) -> str:
    """Paragraphs of words that repeat no line: text even a web-page filter keeps."""
    rng = random.Random(seed)
    words = [f"{w}{i}" for w in ("river", "stone", "lamp", "café") for i in range(200)]
    return "\n\n".join(" ".join(rng.choices(words, k=rng.randint(20, 40))) for _ in range(paragraphs)) + "\n"


def corpus(text_unit: str | None = None, **overrides) -> dict:
    """A one-source corpus entry with the schema's defaults (text_unit and filters included)."""
    source = {"weight": 1.0} if text_unit is None else {"weight": 1.0, "text_unit": text_unit}
    return with_defaults("corpus", {"sources": {"book": source}, **overrides})


def texts_of(parquet) -> list[str]:
    return pq.read_table(parquet, columns=["text"]).column("text").to_pylist()


def build(tmp_path, files: dict[str, str], spec: dict, parts: int = 1):
    """Download `files` as a local source of `parts` parts and build `spec` from it: (stats,
    train texts, val texts, plan), the texts in reading order."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (data / name).write_text(text, encoding="utf-8")
    source = {"kind": "local", "paths": [str(data / "*")]}
    raw = [download("book", source, p, parts, tmp_path / "raw" / f"part-{p:05d}") for p in range(parts)]
    assert all(m["parts"] == parts for m in raw)
    out = tmp_path / "corpus"
    stats = build_corpus(spec, {"book": [tmp_path / "raw" / f"part-{p:05d}" for p in range(parts)]}, out)
    texts = {
        split: [t for f in sorted((out / split).rglob("*.parquet")) for t in texts_of(f)] for split in ("train", "val")
    }
    return stats, texts["train"], texts["val"], json.loads((out / "dedup" / "plan.json").read_text())


def test_a_text_file_reads_as_one_stream_byte_for_byte(tmp_path):
    path = tmp_path / "play.txt"
    text = "ROMEO:\nhello  \n\n\n\nJULIET:\n\tœil\n\n"
    path.write_bytes(text.encode())
    for unit in ("stream", "file"):
        assert [r["text"] for r, _ in read_records(path, unit)] == [text]
    assert [r["text"] for r, _ in read_records(path)] == [text]  # stream is the default
    assert reads_streams(path, "stream") and reads_streams(path, "file")
    assert not reads_streams(path, "paragraph") and not reads_streams(tmp_path / "a.jsonl", "stream")
    assert with_defaults("corpus_source", {"weight": 1})["text_unit"] == "stream"


def test_a_tail_split_cuts_a_one_file_play_at_the_first_paragraph_from_the_boundary(tmp_path):
    text = play(400)
    stats, train, val, plan = build(tmp_path, {"input.txt": text}, corpus(val_fraction=0.1, val_split="tail"))
    whole = normalize_text(text).encode()
    assert len(train) == len(val) == 1
    assert (train[0] + val[0]).encode() == whole  # nothing lost, nothing moved, blank lines kept
    cut = len(train[0].encode())
    paragraphs = [m.end() for m in re.finditer(rb"\n\n", whole)]
    assert cut == min(p for p in paragraphs if p >= -(-9 * len(whole) // 10))  # byte ⌈0.9 × size⌉ or after
    assert train[0].endswith("\n\n") and val[0].split(":\n")[0] in SPEAKERS  # val opens with a speech
    assert plan["tail_starts"] == {"book": {"part": 0, "row": 0, "byte": cut}}
    book = stats["sources"]["book"]
    assert book["in"] == book["cut_at_tail"] == {"documents": 1, "bytes": len(whole)}
    assert book["train_before_mix"] == book["train"] == {"documents": 1, "bytes": cut}
    assert book["val_before_mix"] == book["val"] == {"documents": 1, "bytes": len(whole) - cut}
    assert 0.1 * len(whole) - 200 < len(whole) - cut <= 0.1 * len(whole)  # within a speech of a tenth


@pytest.mark.parametrize("parts", [1, 3])
def test_parts_cut_a_stream_into_documents_and_the_tail_into_the_last(tmp_path, parts):
    text = play(600, seed=1)
    stats, train, val, plan = build(tmp_path, {"input.txt": text}, corpus(val_fraction=0.1, val_split="tail"), parts)
    assert len(train) == parts and len(val) == 1
    assert plan["tail_starts"]["book"]["part"] == parts - 1 and plan["tail_starts"]["book"]["byte"] > 0
    pieces = train[:-1] + [train[-1] + val[0]]  # the pieces the parts cut, the last one whole again
    assert "\n\n".join(pieces) == normalize_text(text)  # each piece ends where a paragraph starts
    book = stats["sources"]["book"]
    assert book["in"]["documents"] == parts and book["cut_at_tail"]["documents"] == 1
    assert book["train_before_mix"]["documents"] + book["val_before_mix"]["documents"] == parts + 1
    assert book["train_before_mix"]["bytes"] + book["val_before_mix"]["bytes"] == book["in"]["bytes"]


@pytest.mark.parametrize("unit", ["stream", "jsonl"])
def test_a_document_with_no_paragraph_after_the_boundary_stays_whole_in_train(tmp_path, unit):
    """The tail begins in the second of three documents, which has no paragraph start after it
    (a stream of one paragraph) or is not a stream (a JSON-lines record, never cut)."""
    first, last = prose(40, seed=2), prose(8, seed=3)
    middle = "\n".join(f"we speak line {i} together" for i in range(12)) + "\n"
    if unit == "jsonl":
        middle = prose(6, seed=4)  # paragraphs, but a record is never cut
        files = {"a.jsonl": "".join(json.dumps({"text": t}) + "\n" for t in (first, middle, last))}
    else:
        files = {"a.txt": first, "b.txt": middle, "c.txt": last}
    sizes = [len(normalize_text(t).encode()) for t in (first, middle, last)]
    fraction = (sizes[2] + sizes[1] / 2) / sum(sizes)  # the boundary halfway into the middle one
    stats, train, val, plan = build(tmp_path, files, corpus(val_fraction=round(fraction, 3), val_split="tail"))
    assert train == [normalize_text(first), normalize_text(middle)] and val == [normalize_text(last)]
    assert plan["tail_starts"]["book"]["byte"] == 0 and "cut_at_tail" not in stats["sources"]["book"]


def test_a_play_read_whole_survives_the_default_filters_a_web_page_would_not(tmp_path):
    text = play(17_000, seed=5)  # over a million characters; the speakers' names are half its lines
    defaults = corpus()["filters"]
    gopher = {k: v for k, v in defaults["repetition"].items() if k != "enabled"}
    assert len(normalize_text(text)) > defaults["max_chars"]
    assert not RepetitionFilter(**gopher).keep(Document(normalize_text(text), "s"))

    stats, train, val, _ = build(tmp_path / "stream", {"input.txt": text}, corpus(val_split="tail"))
    book = stats["sources"]["book"]
    assert not [step for step in book if step.startswith("dropped_")]
    assert book["skipped_length"] == book["skipped_repetition"] == book["in"]  # not applied, and counted
    assert (train[0] + val[0]) == normalize_text(text)

    record = {"a.jsonl": json.dumps({"text": text}) + "\n" + json.dumps({"text": prose(30, seed=8)}) + "\n"}
    stats, *_ = build(tmp_path / "web", record, corpus())
    book = stats["sources"]["book"]  # the same text as a record is judged as a web page, as before
    assert book["dropped_length"]["documents"] == 1 and "skipped_length" not in book


def test_a_hash_split_that_leaves_val_empty_of_streams_says_how_to_hold_out_text(tmp_path):
    books = {"a.txt": play(30, seed=6), "b.txt": play(30, seed=7)}
    assert not any(is_val(content_id(normalize_text(t)), 0.02, 0) for t in books.values())
    with pytest.raises(InputError, match=r"no document went to val: .* 2 of this corpus's 2 .* set val_split: tail"):
        build(tmp_path, books, corpus())
