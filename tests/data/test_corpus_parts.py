"""The data half in parts, through Snakemake: the corpus does not depend on how sources are cut.

Two copies of the workflow build the same mixed corpus, one reading each source
as one part and one as several (different counts per source); near-duplicates are
planted in different parts and in different sources. Both must keep the same
documents, with the same copies, in the same split, and count the same. The book
is read by paragraph: read as a stream, its documents would be the pieces the
parts cut (tests/data/test_streams.py).
"""

import collections
import json
import os
import random
import re
import signal
import subprocess
import time

import pyarrow.parquet as pq
import pytest

from minnow.digests import content_id

from conftest import BIN, copy_workflow, planned_rules, snakemake, write_config

pytestmark = pytest.mark.slow
TOPICS = ["river", "mountain", "compiler", "bread", "violin", "comet", "garden", "train", "bee", "glass"]
PLANTED = (
    "The lighthouse keeper counted the gulls on the rocks every morning and wrote the number in a "
    "blue notebook that he kept beside the kettle, next to a photograph of his sister."
)


def essay(i: int) -> str:
    """About 45 words of text unlike any other essay's."""
    rng = random.Random(i)
    vocabulary = [f"{t}{k}" for t in TOPICS for k in range(60)]
    return f"On {TOPICS[i % len(TOPICS)]} number {i}: " + " ".join(rng.choice(vocabulary) for _ in range(45)) + "."


def write_data(folder):
    book = folder / "data" / "book"
    book.mkdir(parents=True)
    chapters = [[essay(c * 100 + i) for i in range(100)] for c in range(4)]
    chapters[0].insert(3, PLANTED)  # near the start of the first file: the first part
    chapters[3].append(PLANTED.replace("blue", "green"))  # at the end of the last: the last part
    for c, paragraphs in enumerate(chapters):
        (book / f"chapter{c}.txt").write_text("\n\n".join(paragraphs) + "\n")
    chat = [{"prompt": f"question {i} about {TOPICS[i % 10]}?", "completion": essay(5000 + i)} for i in range(150)]
    chat.append({"text": PLANTED.replace("gulls", "terns")})  # a near copy in another source
    (folder / "data" / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat))


def config(parts: dict[str, int]) -> dict:
    return {
        "experiment": "parts",
        "sources": {
            "guppy": {"kind": "builtin", "generator": "guppy", "count": 3000, "seed": 5, "parts": parts["guppy"]},
            "book": {"kind": "local", "paths": ["data/book/*.txt"], "parts": parts["book"]},
            "chat": {"kind": "local", "paths": ["data/chat.jsonl"], "parts": parts["chat"]},
        },
        "corpora": {
            "mixed": {
                "sources": {
                    "book": {"weight": 0.4, "text_unit": "paragraph"},  # essays: a document each
                    "chat": {"weight": 0.3},
                    "guppy": {"weight": 0.3, "lowercase": True},
                },
                "val_fraction": 0.1,
                "dedup": {"threshold": 0.7, "ngram": 3},
            }
        },
        "tokenizers": {"bpe": {"corpus": "mixed", "vocab_size": 400}},
    }


def build(root, parts: dict[str, int]):
    folder = copy_workflow(root / "minnow")
    write_config(folder, config(parts))
    write_data(folder)
    snakemake(folder, "results/shards/mixed/bpe/meta.json", "results/corpus/mixed/corpus.json")
    return folder


def split_rows(folder, split: str) -> list[dict]:
    files = sorted((folder / "results/corpus/mixed" / split).rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f, columns=["id", "source", "text"]).to_pylist()]


@pytest.fixture(scope="module")
def one_and_many(tmp_path_factory):
    one = build(tmp_path_factory.mktemp("one"), {"guppy": 1, "book": 1, "chat": 1})
    many = build(tmp_path_factory.mktemp("many"), {"guppy": 2, "book": 4, "chat": 3})
    return one, many


def test_parts_give_the_same_documents_copies_split_counts_and_tokens(one_and_many):
    one, many = one_and_many
    for split in ("train", "val"):
        copies = [collections.Counter((r["id"], r["source"]) for r in split_rows(f, split)) for f in one_and_many]
        assert copies[0] == copies[1] and len(copies[0]) > 100, split
    stats = [json.loads((f / "results/corpus/mixed/stats.json").read_text()) for f in one_and_many]
    assert stats[0]["totals"] == stats[1]["totals"] and stats[0]["sources"] == stats[1]["sources"]
    metas = [json.loads((f / "results/shards/mixed/bpe/meta.json").read_text()) for f in one_and_many]
    for split in ("train", "val"):
        assert metas[0]["splits"][split]["tokens"] == metas[1]["splits"][split]["tokens"]
    assert len(metas[1]["splits"]["train"]["shards"]) == 2 + 4 + 3  # a shard per part
    assert len(list((many / "results/raw/book").glob("part-*"))) == 4


def test_corpus_json_lists_every_mixed_part_with_its_documents_and_bytes(one_and_many):
    indexes = [json.loads((f / "results/corpus/mixed/corpus.json").read_text()) for f in one_and_many]
    for folder, index in zip(one_and_many, indexes, strict=True):
        for split in ("train", "val"):
            listed = index["splits"][split]
            on_disk = sorted(
                str(p.relative_to(folder)) for p in (folder / "results/corpus/mixed" / split).rglob("*.parquet")
            )
            assert sorted(part["path"] for part in listed["parts"]) == on_disk
            rows = split_rows(folder, split)
            assert listed["documents"] == len(rows) == sum(part["documents"] for part in listed["parts"])
            assert listed["bytes"] == sum(len(r["text"].encode()) for r in rows) > 0
    assert indexes[0]["splits"]["train"]["documents"] == indexes[1]["splits"]["train"]["documents"]
    assert len(indexes[1]["splits"]["train"]["parts"]) == 2 + 4 + 3


def test_corpus_json_is_the_target_of_a_ready_corpus(tmp_path):
    folder = copy_workflow(tmp_path / "minnow")
    write_config(folder, config({"guppy": 2, "book": 1, "chat": 1}))
    write_data(folder)
    plan = planned_rules(folder, "results/corpus/mixed/corpus.json")
    assert plan == {"download": 4, "prepare_part": 4, "dedup": 1, "mix_part": 4, "corpus_index": 1}


def test_near_copies_in_other_parts_and_sources_leave_one_always_the_same(one_and_many):
    copies = [PLANTED, PLANTED.replace("blue", "green")]
    book_keeper = min(copies, key=content_id)  # one source: the smaller content id
    for folder in one_and_many:
        texts = [r["text"] for split in ("train", "val") for r in split_rows(folder, split)]
        kept = [t for t in texts if "lighthouse keeper counted" in t]
        assert set(kept) == {book_keeper}, folder  # the chat's near copy went too: book comes first
        stats = json.loads((folder / "results/corpus/mixed/stats.json").read_text())
        assert stats["duplicates"]["chat"]["near_duplicate"] == {"book": 1}
        assert stats["duplicates"]["book"]["near_duplicate"] == {"book": 1}


def planned_outputs(folder, rule: str, *args: str) -> set[str]:
    """The outputs of the `rule` jobs a dry run would run."""
    out = snakemake(folder, "-n", *args).stdout
    blocks = re.findall(rf"^rule {rule}:\n((?:    .*\n)*)", out, re.MULTILINE)
    return {re.search(r"output: ([^,\s]+)", b).group(1) for b in blocks}


def test_a_killed_run_redoes_only_the_parts_it_had_not_finished(tmp_path):
    folder = copy_workflow(tmp_path / "minnow")
    write_config(folder, config({"guppy": 4, "book": 4, "chat": 1}))
    write_data(folder)
    target = "results/corpus/mixed/stats.json"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [str(BIN / "snakemake"), "--cores", "1", target],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    prepared = folder / "results/corpus/mixed/prepared"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(prepared.rglob("*.keys.parquet"))) < 3:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the job it was running, mid-write
    proc.wait()
    finished = {str(p.relative_to(folder)).removesuffix(".keys.parquet") for p in prepared.rglob("*.keys.parquet")}
    assert 3 <= len(finished) < 9
    again = {p.removesuffix(".parquet") for p in planned_outputs(folder, "prepare_part", "--rerun-incomplete", target)}
    # every unfinished part, and of the finished ones at most the one killed before Snakemake recorded it
    assert len(again) >= 9 - len(finished) and len(again & finished) <= 1
    snakemake(folder, "--unlock")  # a hard kill leaves Snakemake's lock, as the README says
    snakemake(folder, "--rerun-incomplete", target)
    stats = json.loads((folder / target).read_text())
    assert stats["totals"]["in"]["documents"] == 3000 + 402 + 151  # nothing lost, nothing read twice
    assert not list((folder / "results").rglob(".*.tmp"))  # the killed job's temporary files were cleared
