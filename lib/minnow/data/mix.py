"""Weighted mixing of sources, with down- and up-sampling, decided per document; the mix_part step.

Weights are target shares of the train split, measured in bytes or in tokens.
Tokens are counted before any tokenizer exists, so "tokens" means pre-tokenizer
words and punctuation (`filters.words`), a stable proxy for BPE tokens. With no
`total`, the mix is the largest one that repeats nothing: the scarcest source
(relative to its weight) is used whole and the others are subsampled. A `total`
larger than that upsamples, repeating documents whole epochs and then a random
part. Each document's repeat count comes from a hash of (seed, id, source), so
the mix does not depend on the order documents arrive in, nor on the parts.

Val is mixed by the same factors but never upsampled (a source upsampled in train
keeps its val as it is), so validation measures the distribution training sees.
Every held-out document is also written once, before the mix thins it (`heldout`):
what ppl.json scores each source on, whole, whatever its weight.

mix_part, the last of the corpus stage's steps, applies the dedup step's drop
list and plan to one part: its train and val parquet. Where the plan's tail split
begins inside a stream, it cuts that document as dedup did (`split`): the head,
with its own content id, to train, the tail to val.
"""

import contextlib
import hashlib
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from minnow.atomic import atomic_path
from minnow.data.prepare import SCHEMA
from minnow.data.split import cut, in_tail, is_cut, is_val
from minnow.digests import content_id

ROWS = 8192
SPLITS = ("train", "val", "heldout")


def sampling_factors(available: dict[str, int], weights: dict[str, float], total: float | None) -> dict[str, float]:
    """How many times each source's train data is used (below 1 subsamples); every
    source must have some (the dedup step says which has none, and why)."""
    share = {s: w / sum(weights.values()) for s, w in weights.items()}
    if total is None:
        total = min(available[s] / share[s] for s in share)
    return {s: total * share[s] / available[s] for s in share}


def _uniform(seed: int, doc_id: str, source: str) -> float:
    digest = hashlib.blake2b(f"{seed}:{source}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def repeats(factor: float, seed: int, doc_id: str, source: str) -> int:
    """Copies of one document in the mix: floor(factor), plus one with the remaining probability."""
    whole = math.floor(factor)
    return whole + (_uniform(seed, doc_id, source) < factor - whole)


def assign(doc_id: str, source: str, val: bool, factor: float, seed: int) -> tuple[str, int]:
    """(split, copies) of a kept document: val documents are only ever subsampled."""
    if val:
        return "val", repeats(min(factor, 1.0), seed, doc_id, source)
    return "train", repeats(factor, seed, doc_id, source)


def _dropped_rows(drops: Path, source: str, part: int) -> set[int]:
    table = pq.read_table(drops, columns=["row"], filters=[("source", "==", source), ("part", "==", part)])
    return set(table.column("row").to_pylist())


def _piece(record: dict, text: str) -> dict:
    """A piece of a cut stream as a document of its own: its text, with that text's content id."""
    return {**record, "id": content_id(text), "text": text}


def _splitter(plan: dict, source: str, part: int):
    """The pieces of the document at (record, row) of this part, each with whether it goes to
    val, by the plan's split rule: the document whole, or the stream the tail begins inside cut
    in two."""
    if plan["val_split"] == "hash":
        return lambda record, row: [(is_val(record["id"], plan["val_fraction"], plan["seed"]), record)]
    start = (plan["tail_starts"] or {}).get(source)

    def pieces(record: dict, row: int) -> list[tuple[bool, dict]]:
        if is_cut(part, row, start):
            head, tail = cut(record["text"], start["byte"])
            return [(False, _piece(record, head)), (True, _piece(record, tail))]
        return [(in_tail(part, row, start), record)]

    return pieces


def _batches(survivors: Path, dropped: set[int], splitter, factor: float, source: str, seed: int):
    """Per batch of survivors, the copies of its kept documents for train and for val, and
    every held-out document once."""
    row = 0
    for batch in pq.ParquetFile(survivors).iter_batches(batch_size=ROWS):
        out = {"train": [], "val": [], "heldout": []}
        for record in batch.to_pylist():
            if row not in dropped:
                for val, piece in splitter(record, row):
                    split, copies = assign(piece["id"], source, val, factor, seed)
                    out[split] += [piece] * copies
                    out["heldout"] += [piece] if val else []
            row += 1
        yield out


def mix_part(survivors: Path, drops: Path, plan: Path, source: str, part: int, outs: dict[str, Path]) -> dict:
    """Write one part's train, val and heldout parquet (`outs`): its survivors less the drop
    list, split and repeated as the plan says, and its held-out documents unthinned; return
    the documents written to each."""
    plan = json.loads(Path(plan).read_text())
    batches = _batches(
        survivors,
        _dropped_rows(drops, source, part),
        _splitter(plan, source, part),
        plan["factors"][source],
        source,
        plan["seed"],
    )
    written = dict.fromkeys(SPLITS, 0)
    with contextlib.ExitStack() as stack:
        writers = {s: pq.ParquetWriter(stack.enter_context(atomic_path(outs[s])), SCHEMA) for s in SPLITS}
        for writer in writers.values():
            stack.callback(writer.close)
        for out in batches:
            for split, writer in writers.items():
                if out[split]:
                    writer.write_table(pa.Table.from_pylist(out[split], schema=SCHEMA))
                    written[split] += len(out[split])
    return written
