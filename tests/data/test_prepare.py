import json
import random

import pyarrow.parquet as pq
import pytest

from minnow.data.filters import words
from minnow.data.pipeline import build_corpus
from minnow.errors import InputError

DEFAULT_FILTERS = {
    "min_chars": 10,
    "max_chars": 100000,
    "min_alnum_ratio": 0.5,
    "repetition": {
        "enabled": True,
        "min_words": 50,
        "dup_line_frac": 0.3,
        "dup_para_frac": 0.3,
        "top_n_grams": {2: 0.2},
        "dup_n_grams": {5: 0.15},
    },
    "language": {"allowed": [], "min_score": 0.5},
}
TOPICS = ["rivers", "mountains", "compilers", "bread", "violins", "comets", "gardens", "trains", "bees", "glass"]


def raw_source(folder, name, records, parts: int = 1):
    """A source's raw part folders, its records dealt out in `parts` contiguous runs."""
    folders = []
    for part in range(parts):
        raw = folder / name / f"part-{part:05d}"
        raw.mkdir(parents=True)
        chunk = records[len(records) * part // parts : len(records) * (part + 1) // parts]
        (raw / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chunk))
        (raw / "manifest.json").write_text(json.dumps({"files": [{"path": "data.jsonl"}]}))
        folders.append(raw)
    return folders


def essay(i: int) -> str:
    """About 60 words of non-repetitive text, different for every i."""
    rng = random.Random(i)
    vocabulary = [f"{t}{k}" for t in TOPICS for k in range(40)]
    return f"On {TOPICS[i % len(TOPICS)]}: " + " ".join(rng.choice(vocabulary) for _ in range(60)) + "."


def corpus_spec(**overrides):
    spec = {
        "sources": {
            "web": {"weight": 0.5, "lowercase": False, "text_unit": "paragraph", "text_field": None},
            "chat": {"weight": 0.5, "lowercase": True, "text_unit": "paragraph", "text_field": None},
        },
        "mix_by": "bytes",
        "total": None,
        "val_fraction": 0.2,
        "val_split": "hash",
        "seed": 0,
        "filters": DEFAULT_FILTERS,
        "dedup": {"threshold": 0.7, "num_perm": 128, "ngram": 3, "seed": 0},
    }
    spec.update(overrides)
    return spec


@pytest.fixture
def raw(tmp_path):
    web = [{"text": essay(i)} for i in range(200)]
    web += [{"text": essay(i) + " indeed"} for i in range(0, 200, 4)]  # near-duplicates
    web += [{"text": essay(3)}, {"text": "%%%% $$$$ #### @@@@ !!!! ^^^^"}, {"text": "tiny"}]
    chat = [
        {"prompt": f"Question {i} about fish food?", "completion": f"Answer {i}: flakes and bloodworms, {i} times."}
        for i in range(300)
    ]
    return {"web": raw_source(tmp_path / "raw", "web", web), "chat": raw_source(tmp_path / "raw", "chat", chat)}


def run(tmp_path, raw, spec):
    out = tmp_path / "corpus"
    stats = build_corpus(spec, raw, out)
    split = {
        name: [r for p in sorted((out / name).rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]
        for name in ("train", "val")
    }
    return stats, split["train"], split["val"]


def test_filters_and_dedup_are_counted_per_source(tmp_path, raw):
    stats, train, val = run(tmp_path, raw, corpus_spec())
    web = stats["sources"]["web"]
    assert web["in"]["documents"] == 253
    assert web["dropped_exact_duplicate"]["documents"] == 1
    assert web["dropped_near_duplicate"]["documents"] == 50
    assert web["dropped_alnum_ratio"]["documents"] == 1 and web["dropped_length"]["documents"] == 1
    assert web["val_before_mix"]["documents"] + web["train_before_mix"]["documents"] == 200
    assert json.loads((tmp_path / "corpus" / "stats.json").read_text()) == stats


def shingles(words: list[str], n: int) -> set[str]:
    """Word n-grams as text: the similarity dedup estimates, computed exactly."""
    return {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def test_no_near_duplicate_of_a_val_document_stays_in_train(tmp_path, raw):
    _, train, val = run(tmp_path, raw, corpus_spec())
    assert val and not {r["id"] for r in val} & {r["id"] for r in train}
    val_sets = [set(shingles(words(r["text"]), 3)) for r in val if r["source"] == "web"]
    for row in (r for r in train if r["source"] == "web"):
        s = set(shingles(words(row["text"]), 3))
        assert all(len(s & v) / len(s | v) < 0.7 for v in val_sets)


def test_chat_records_keep_their_turns_and_lowercase(tmp_path, raw):
    _, train, _ = run(tmp_path, raw, corpus_spec())
    chat = next(r for r in train if r["source"] == "chat")
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant"]
    assert chat["text"] == chat["text"].lower() and chat["messages"][0]["content"].startswith("question")
    assert all(r["messages"] is None for r in train if r["source"] == "web")


def test_mix_shares_follow_weights_and_the_output_is_deterministic(tmp_path, raw):
    spec = corpus_spec(
        sources={
            **corpus_spec()["sources"],
            "web": {**corpus_spec()["sources"]["web"], "weight": 0.8},
            "chat": {**corpus_spec()["sources"]["chat"], "weight": 0.2},
        }
    )
    stats, train, _ = run(tmp_path, raw, spec)
    assert stats["mix"]["web"]["share"] == pytest.approx(0.8, abs=0.03)
    val_bytes = {s: stats["sources"][s]["val"]["bytes"] for s in ("web", "chat")}
    assert val_bytes["web"] / sum(val_bytes.values()) == pytest.approx(0.8, abs=0.1)  # val is mixed like train
    factors = sorted(stats["mix"][s]["factor"] for s in ("web", "chat"))
    assert factors[1] == 1.0 and factors[0] < 1.0  # the largest mix that repeats nothing
    _, again, _ = run(tmp_path, raw, spec)
    assert again == train


def test_every_held_out_document_is_kept_once_before_the_mix_thins_val(tmp_path, raw):
    """heldout/ holds each source's held-out documents whole, whatever its weight: what ppl.json
    scores; val/ is the mix's (a subsample of the thinned source), none of them in train."""
    spec = corpus_spec(
        sources={**corpus_spec()["sources"], "chat": {**corpus_spec()["sources"]["chat"], "weight": 0.1}}
    )
    stats, train, val = run(tmp_path, raw, spec)
    out = tmp_path / "corpus" / "heldout"
    heldout = [r for p in sorted(out.rglob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    for source in ("web", "chat"):
        kept = [r["id"] for r in heldout if r["source"] == source]
        assert len(kept) == len(set(kept)) == stats["sources"][source]["val_before_mix"]["documents"] > 0
        assert {r["id"] for r in val if r["source"] == source} <= set(kept)
    assert stats["sources"]["web"]["val"]["documents"] < stats["sources"]["web"]["val_before_mix"]["documents"]
    assert not {r["id"] for r in heldout} & {r["id"] for r in train}


def test_upsampling_repeats_documents(tmp_path, raw):
    stats, train, _ = run(tmp_path, raw, corpus_spec(total=3 * stats_size(tmp_path, raw)))
    assert stats["mix"]["web"]["factor"] > 1 and stats["mix"]["chat"]["factor"] > 1
    assert len(train) > len({r["id"] for r in train})


def stats_size(tmp_path, raw):
    stats, _, _ = run(tmp_path, raw, corpus_spec())
    return sum(stats["sources"][s]["train_before_mix"]["bytes"] for s in ("web", "chat"))


def test_an_empty_source_stops_with_its_name(tmp_path, raw):
    raw["chat"][0].joinpath("data.jsonl").write_text("\n")
    with pytest.raises(InputError, match=r"source 'chat' has no documents"):
        run(tmp_path, raw, corpus_spec())
    assert not (tmp_path / "corpus" / "stats.json").exists() and not (tmp_path / "corpus" / "train").exists()
    assert not list((tmp_path / "corpus").rglob(".*"))  # no temporary file left behind


def test_a_source_left_without_train_documents_says_where_they_went(tmp_path, raw):
    kjv = [{"text": essay(i)} for i in range(40)]
    exodus = [{"text": essay(i)} for i in range(30)] + [{"text": essay(i) + " amen"} for i in range(30, 40)]
    raw = {"kjv": raw_source(tmp_path / "raw", "kjv", kjv), "exodus": raw_source(tmp_path / "raw", "exodus", exodus)}
    sources = {name: {"weight": 0.5, "lowercase": False, "text_unit": "paragraph", "text_field": None} for name in raw}
    with pytest.raises(InputError) as error:
        run(tmp_path, raw, corpus_spec(sources=sources))
    message = str(error.value)
    assert message.startswith("no train documents left in source(s) exodus:")
    assert (
        "exodus: 40 in, 30 exact duplicates of documents in source 'kjv', "
        "10 near duplicates of documents in source 'kjv'" in message
    )
    assert "kjv: 40 in, " in message and " to train" in message
    assert not (tmp_path / "corpus" / "train").exists()


@pytest.mark.parametrize("parts", [1, 3])
def test_a_tail_split_holds_out_the_end_of_each_source_whatever_the_parts(tmp_path, parts):
    docs = [{"text": essay(i)} for i in range(100)]
    raw = {"web": raw_source(tmp_path / "raw", "web", docs, parts)}
    sources = {"web": {"weight": 1.0, "lowercase": False, "text_unit": "paragraph", "text_field": None}}
    stats, train, val = run(tmp_path, raw, corpus_spec(sources=sources, val_split="tail"))
    held = [r["text"] for r in val]
    sizes = [len(d["text"].encode()) for d in docs]
    first = next(i for i in range(100) if sum(sizes[:i]) >= 0.8 * sum(sizes))
    assert held == [d["text"] for d in docs[first:]]  # the last fifth of the bytes, in order
    assert {r["text"] for r in train} == {d["text"] for d in docs[:first]}
