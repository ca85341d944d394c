"""The dedup step: one job per corpus, over every part's keys, never its texts.

The middle of the corpus stage (prepare_part → dedup → mix_part), in the shape of
datatrove's MinHash pipeline. Exact duplicates are documents with the same content
id; near duplicates are documents that share an LSH band and whose estimated
Jaccard similarity reaches the threshold, joined into clusters (union-find), so a
chain of near copies is one cluster. Every group keeps one document, the first by
(the source's place in the corpus, content id, part, row): a source listed first
wins over a later one, and the choice never depends on how sources were cut into
parts, so neither do the kept documents. Each dropped document records which
source its keeper came from, for the stats and for messages.

The step then splits train from val, fixes the mix (`mix.sampling_factors` over
what survives in train) and writes three files: the drop list (source, part, row)
that each mix_part job applies, plan.json (the mix factors and split settings) and
stats.json. The one text it may read is that of the stream a tail split cuts, one
document per source (`split`), so that the plan names the cut and stats.json
counts both pieces.
"""

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from minnow.atomic import atomic_path, write_json
from minnow.data import corpus_stats, mix
from minnow.data.filters import words
from minnow.data.minhash import band_keys, jaccard, lsh_bands
from minnow.data.split import Boundary, cut, in_tail, is_val, paragraph_start, tail_boundaries, tail_start
from minnow.digests import content_id
from minnow.errors import InputError

EXACT, NEAR = "exact_duplicate", "near_duplicate"


@dataclass
class Keys:
    """Every surviving document of a corpus, one array entry each."""

    source: np.ndarray  # the source's index in the corpus config
    part: np.ndarray
    row: np.ndarray
    ids: list[str]
    id_value: np.ndarray  # the content id as a number, for sorting
    bytes: np.ndarray
    words: np.ndarray
    stream: np.ndarray  # bool: a text file kept whole, which a tail split may cut
    signatures: np.ndarray  # (documents, num_perm) uint32

    def order(self) -> np.ndarray:
        """Each document's position in keeper order (source, content id, part, row): of two
        copies, the lower one keeps."""
        keeper_order = np.empty(len(self.ids), dtype=np.int64)
        keeper_order[np.lexsort((self.row, self.part, self.id_value, self.source))] = np.arange(len(self.ids))
        return keeper_order

    def with_cuts(self, cuts: list[tuple[int, str, str]]) -> "Keys":
        """These keys with each document of `cuts`, (index, head, tail), cut in two: the index
        becomes the head, and the tail is added at the end with the same source, part, row and
        signature (dedup has already run)."""
        at = [i for i, _, _ in cuts]
        keys = Keys(**{f.name: _extended(getattr(self, f.name), at) for f in fields(self)})
        pieces = [(i, head) for i, head, _ in cuts] + [(len(self.ids) + k, tail) for k, (_, _, tail) in enumerate(cuts)]
        for index, text in pieces:
            keys.ids[index] = content_id(text)
            keys.id_value[index] = int(keys.ids[index], 16)
            keys.bytes[index], keys.words[index] = len(text.encode("utf-8")), len(words(text))
        return keys


def _extended(values, at: list[int]):
    """A list or array with copies of its entries at `at` added at the end."""
    if isinstance(values, list):
        return values + [values[i] for i in at]
    return np.concatenate([values, values[at]])


def _signatures(table, num_perm: int) -> np.ndarray:
    """The signature column as a (rows, num_perm) uint32 view of Arrow's own buffer (no copy per row)."""
    column = table.column("signature").combine_chunks()
    return np.frombuffer(
        column.buffers()[1], dtype=np.uint32, count=len(column) * num_perm, offset=column.offset * 4 * num_perm
    ).reshape(len(column), num_perm)


def load_keys(parts: list[tuple[int, int, Path]], num_perm: int) -> Keys:
    """The keys files of (source index, part, path), concatenated: each file is read into
    arrays sized from the files' metadata and dropped, so one file's table is all that is
    held beside the result."""
    counts = [pq.ParquetFile(path).metadata.num_rows for _, _, path in parts]
    total = sum(counts)
    keys = Keys(
        source=np.empty(total, np.int32),
        part=np.empty(total, np.int32),
        row=np.empty(total, np.int64),
        ids=[],
        id_value=np.empty(total, np.uint64),
        bytes=np.empty(total, np.int64),
        words=np.empty(total, np.int64),
        stream=np.empty(total, bool),
        signatures=np.empty((total, num_perm), np.uint32),
    )
    at = 0
    for (source, part, path), count in zip(parts, counts, strict=True):
        table, end = pq.read_table(path), at + count
        keys.source[at:end], keys.part[at:end] = source, part
        for name in ("row", "bytes", "words", "stream"):
            getattr(keys, name)[at:end] = table.column(name).to_numpy()
        keys.signatures[at:end] = _signatures(table, num_perm)
        ids = table.column("id").to_pylist()
        keys.ids += ids
        keys.id_value[at:end] = [int(i, 16) for i in ids]
        at = end
    return keys


def exact_keepers(keys: Keys, keeper_order: np.ndarray) -> np.ndarray:
    """For each document, the index of the copy kept for its content id (itself if kept)."""
    order = np.lexsort((keeper_order, keys.id_value))
    ids = keys.id_value[order]
    starts = np.r_[True, ids[1:] != ids[:-1]]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    keeper = np.empty(len(order), dtype=np.int64)
    keeper[order] = first
    return keeper


class UnionFind:
    """Clusters of documents; a cluster's root is its keeper. `keeper_order` is each document's
    position in keeper order (Keys.order), not a union-by-rank rank: of two roots, the one
    lower in it keeps and becomes the root."""

    def __init__(self, keeper_order: np.ndarray):
        self.parent, self.keeper_order = list(range(len(keeper_order))), keeper_order

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            low, high = (a, b) if self.keeper_order[a] < self.keeper_order[b] else (b, a)
            self.parent[high] = low


def _candidate_pairs(keys_band: np.ndarray, members: np.ndarray, keeper_order: np.ndarray) -> np.ndarray:
    """Pairs within each group of equal band keys: every member with the group's first
    (in keeper order) and with the member before it."""
    order = np.lexsort((keeper_order[members], keys_band))
    sorted_keys, sorted_members = keys_band[order], members[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    starts = np.r_[True, ~same]
    group_first = sorted_members[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    followers = np.flatnonzero(np.r_[False, same])
    pairs = np.concatenate(
        [
            np.stack([group_first[followers], sorted_members[followers]], axis=1),
            np.stack([sorted_members[followers - 1], sorted_members[followers]], axis=1),
        ]
    )
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def _similar(signatures: np.ndarray, pairs: np.ndarray, threshold: float, chunk: int = 65536) -> np.ndarray:
    """Which candidate pairs reach the threshold, compared a chunk at a time (bounded memory)."""
    return np.concatenate(
        [
            jaccard(signatures[p[:, 0]], signatures[p[:, 1]]) >= threshold
            for p in np.array_split(pairs, max(1, -(-len(pairs) // chunk)))
        ]
        or [np.zeros(0, bool)]
    )


def near_keepers(keys: Keys, alive: np.ndarray, keeper_order: np.ndarray, threshold: float) -> np.ndarray:
    """For each document among `alive`, the index of its near-duplicate cluster's keeper."""
    members = np.flatnonzero(alive)
    bands = band_keys(keys.signatures, lsh_bands(keys.signatures.shape[1], threshold))[members]
    clusters = UnionFind(keeper_order)
    for band in range(bands.shape[1]):
        pairs = _candidate_pairs(bands[:, band], members, keeper_order)
        for a, b in pairs[_similar(keys.signatures, pairs, threshold)]:
            clusters.union(int(a), int(b))
    keeper = np.arange(len(keeper_order))
    keeper[members] = [clusters.find(int(m)) for m in members]
    return keeper


def find_duplicates(keys: Keys, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(why each document is dropped: "" kept, EXACT or NEAR; the index of its keeper)."""
    keeper_order = keys.order()
    keeper = exact_keepers(keys, keeper_order)
    reason = np.where(keeper != np.arange(len(keeper)), EXACT, "").astype(object)
    near = near_keepers(keys, reason == "", keeper_order, threshold)
    moved = (reason == "") & (near != np.arange(len(near)))
    reason[moved], keeper[moved] = NEAR, near[moved]
    return reason, keeper


def dedup_corpus(
    spec: dict, parts: dict[str, list[tuple[Path, Path, Path]]], drops_out: Path, plan_out: Path, stats_out: Path
) -> dict:
    """Deduplicate a corpus from its parts' survivors, keys and stats ({source: [(survivors, keys,
    stats)] per part, in corpus order}), split and fix its mix, and write the drop list, the plan
    and stats.json; return the stats. Of the survivors, only a stream a tail split cuts is read."""
    sources = list(parts)
    keys = load_keys(
        [(s, p, k) for s, name in enumerate(sources) for p, (_, k, _) in enumerate(parts[name])],
        spec["dedup"]["num_perm"],
    )
    reason, keeper = find_duplicates(keys, spec["dedup"]["threshold"])
    counts = corpus_stats.CorpusSourceCounts(
        sources, [json.loads(Path(st).read_text()) for s in sources for _, _, st in parts[s]]
    )
    counts.add_duplicates(keys, reason, keeper, sources)
    keys, kept, val, tails = _split(keys, reason == "", spec, sources, parts, counts)
    measure = keys.bytes if spec["mix_by"] == "bytes" else keys.words
    weights = {s: spec["sources"][s]["weight"] for s in sources}
    counts.add_split(keys, kept, val, sources)
    train_size = {s: int(measure[kept & ~val & (keys.source == i)].sum()) for i, s in enumerate(sources)}
    counts.check(train_size)
    _check_val(keys, kept, val, spec["val_split"])
    factors = mix.sampling_factors(train_size, weights, spec.get("total"))
    units = counts.add_mix(keys, kept, val, factors, spec["seed"], measure, sources)
    _write_drops(keys, ~kept, sources, drops_out)
    write_json(
        plan_out,
        {
            "factors": factors,
            "seed": spec["seed"],
            "val_fraction": spec["val_fraction"],
            "val_split": spec["val_split"],
            "tail_starts": tails,
        },
    )
    stats = counts.stats(spec["mix_by"], factors, units)
    write_json(stats_out, stats)
    return stats


def _split(
    keys: Keys, kept: np.ndarray, spec: dict, sources: list[str], parts: dict, counts: corpus_stats.CorpusSourceCounts
) -> tuple[Keys, np.ndarray, np.ndarray, dict | None]:
    """(keys, kept, val, tail starts): which documents go to val, and for a tail split where each
    source's tail begins, with the keys of any stream it cuts in two (counted in `counts`)."""
    if spec["val_split"] == "hash":
        return keys, kept, np.array([is_val(i, spec["val_fraction"], spec["seed"]) for i in keys.ids], bool), None
    starts, cuts = {}, []
    for s, boundary in tail_boundaries(keys.source, keys.part, keys.row, keys.bytes, spec["val_fraction"]).items():
        survivors = parts[sources[s]][keys.part[boundary.holder]][0]
        starts[s], pieces = _tail_start(keys, kept, boundary, survivors)
        if pieces:
            counts.add_cut(sources[s], int(keys.bytes[boundary.holder]))
            cuts.append((boundary.holder, *pieces))
    val = np.array(
        [in_tail(p, r, starts.get(int(s))) for s, p, r in zip(keys.source, keys.part, keys.row, strict=True)], bool
    )
    if cuts:
        keys, kept, val = keys.with_cuts(cuts), np.r_[kept, [True] * len(cuts)], np.r_[val, [True] * len(cuts)]
    return keys, kept, val, {sources[s]: start for s, start in starts.items()}


def _tail_start(keys: Keys, kept: np.ndarray, boundary: Boundary, survivors: Path) -> tuple[dict | None, tuple]:
    """Where a source's tail begins (a `split.tail_start`, or None: no val) and, if it begins
    inside a stream, that stream's (head, tail). The holder is cut at its first paragraph start
    from the boundary if it is a kept stream with one; else val begins with the holder whole if
    the boundary is its first byte, or with the next document."""
    i = boundary.holder
    if boundary.offset and kept[i] and keys.stream[i]:
        text = _text(survivors, int(keys.row[i]))
        at = paragraph_start(text, boundary.offset)
        if at is not None:
            return tail_start(int(keys.part[i]), int(keys.row[i]), at), cut(text, at)
    first = i if boundary.offset == 0 else boundary.following
    return (None if first is None else tail_start(int(keys.part[first]), int(keys.row[first]))), ()


def _text(survivors: Path, row: int) -> str:
    """The text of one row of a part's survivors, reading only the row group that holds it."""
    f = pq.ParquetFile(survivors)
    for group in range(f.num_row_groups):
        size = f.metadata.row_group(group).num_rows
        if row < size:
            return f.read_row_group(group, columns=["text"]).column("text")[row].as_py()
        row -= size
    raise IndexError(f"{survivors} has no row {row}")


def _check_val(keys: Keys, kept: np.ndarray, val: np.ndarray, val_split: str) -> None:
    """Stop with a way out when a hash split left val empty because the corpus holds streams:
    it holds out whole documents, and a book read whole is one."""
    streams = int((kept & keys.stream).sum())
    if val_split == "hash" and streams and not (kept & val).any():
        raise InputError(
            f"no document went to val: val_split 'hash' holds out whole documents, and {streams} of this "
            f"corpus's {int(kept.sum())} are text files read as one stream each (text_unit stream or file); "
            "set val_split: tail to hold out the end of each source's text, or text_unit: paragraph"
        )


def _write_drops(keys: Keys, dropped: np.ndarray, sources: list[str], out: Path) -> None:
    table = pa.table(
        {
            "source": [sources[i] for i in keys.source[dropped]],
            "part": pa.array(keys.part[dropped], pa.int32()),
            "row": pa.array(keys.row[dropped], pa.int64()),
        }
    )
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)
