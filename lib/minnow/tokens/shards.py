"""Token shards: the shard stage's writer, its index, and the training reader.

A shard is a 32-byte header (magic `MINNOWTK`, format version, bytes per token,
token count) followed by the token ids as little-endian uint16 (vocab up to
65,536) or uint32. The header makes a shard self-describing and lets the reader
refuse a truncated or foreign file instead of training on garbage; the raw array
after it is read through `numpy.memmap`, so a batch costs a few page faults, not
a copy of the corpus into RAM.

Each part of a corpus split is one shard file (`shard_part`, one job per part);
`meta.json` indexes them (`shard`). Each document is followed by its tokenizer's
document-end token (minnow's EOS). Chat documents are laid out turn by turn as
the tokenizer's chat template lays them out (`chat_layout`), so the train stage
can find assistant answers from the ids alone.
"""

import itertools
import json
import struct
from pathlib import Path

import numpy as np

from minnow.atomic import atomic_path, write_json
from minnow.errors import InputError
from minnow.tokens import chat_layout, tokenizer

MAGIC = b"MINNOWTK"
VERSION = 1
HEADER = struct.Struct("<8sIIQ8x")  # magic, version, bytes per token, token count, padding
DTYPES = {2: np.dtype("<u2"), 4: np.dtype("<u4")}


def dtype_for(vocab_size: int) -> np.dtype:
    return DTYPES[2] if vocab_size <= 2**16 else DTYPES[4]


def read_header(path: str | Path) -> tuple[np.dtype, int]:
    """The dtype and token count of a shard, after checking it is whole and ours."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(HEADER.size)
    if len(raw) < HEADER.size:
        raise InputError(f"{path}: truncated shard ({size} bytes, shorter than its {HEADER.size}-byte header)")
    magic, version, itemsize, count = HEADER.unpack(raw)
    if magic != MAGIC:
        raise InputError(f"{path}: not a minnow token shard (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION or itemsize not in DTYPES:
        raise InputError(f"{path}: unsupported shard format (version {version}, {itemsize} bytes per token)")
    expected = HEADER.size + count * itemsize
    if size != expected:
        raise InputError(f"{path}: truncated shard: header promises {count} tokens ({expected} bytes), file has {size}")
    return DTYPES[itemsize], count


def open_shard(path: str | Path) -> np.memmap:
    dtype, count = read_header(path)
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER.size, shape=(count,))


def write_shard(path: Path, dtype: np.dtype, arrays) -> int:
    """Write token arrays to one shard file, atomically; return its token count."""
    count = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(b"\0" * HEADER.size)
        for ids in arrays:
            f.write(ids.astype(dtype).tobytes())
            count += len(ids)
        f.seek(0)
        f.write(HEADER.pack(MAGIC, VERSION, dtype.itemsize, count))
    return count


def _encode_batch(tok, rows: list[dict], layout: chat_layout.Layout) -> np.ndarray:
    """One array for a batch of documents, each encoded and followed by the document end;
    the tokenizer encodes the whole batch at once, in parallel, without offsets."""
    docs = [layout.segments(r["text"], r["messages"]) for r in rows]
    encodings = iter(tok.encode_batch_fast([text for doc in docs for _, text, _ in doc], add_special_tokens=False))
    pieces = []
    for doc in docs:
        for before, _, after in doc:
            pieces += [before, next(encodings).ids, after]
        pieces.append([layout.document_end])
    return np.fromiter(itertools.chain.from_iterable(pieces), dtype=np.int64)


def _batches(parquet: Path, max_bytes: int):
    """Rows in batches of about `max_bytes` of text, so memory stays flat whatever the
    documents' sizes (one 1 MB source file weighs as much as ten thousand chat turns)."""
    import pyarrow.parquet as pq

    rows, size = [], 0
    for batch in pq.ParquetFile(parquet).iter_batches(batch_size=256, columns=["text", "messages"]):
        for row in batch.to_pylist():
            rows.append(row)
            size += len(row["text"].encode("utf-8"))
            if size >= max_bytes:
                yield rows
                rows, size = [], 0
    if rows:
        yield rows


def shard_part(tokenizer_json: Path, parquet: Path, out: Path, batch_bytes: int) -> dict:
    """Encode one part's parquet into one shard file; return its documents, text bytes and tokens."""
    tok = tokenizer.load(tokenizer_json)
    layout, dtype = chat_layout.read(tok, tokenizer_json), dtype_for(tok.get_vocab_size())
    counted = {"documents": 0, "text_bytes": 0}

    def arrays():
        for rows in _batches(parquet, batch_bytes):
            counted["documents"] += len(rows)
            counted["text_bytes"] += sum(len(r["text"].encode("utf-8")) for r in rows)
            try:
                yield _encode_batch(tok, rows, layout)
            except InputError as e:  # a conversation the tokenizer's chat template cannot lay out
                raise InputError(f"{parquet}: {e} ({Path(tokenizer_json).parent / 'tokenizer_config.json'})") from None

    tokens = write_shard(Path(out), dtype, arrays())
    return {**counted, "tokens": tokens}


def write_meta(folder: Path, tokenizer_json: Path, splits: dict[str, list[tuple[Path, dict]]]) -> dict:
    """meta.json, the index the reader opens: per split its shard files (relative to
    `folder`, in the order given) with their counts, and the totals."""
    tok = tokenizer.load(tokenizer_json)
    meta = {
        "format": {"magic": MAGIC.decode(), "version": VERSION, "header_bytes": HEADER.size},
        "dtype": dtype_for(tok.get_vocab_size()).name,
        "vocab_size": tok.get_vocab_size(),
        "eos_id": chat_layout.read(tok, tokenizer_json).document_end,
        "tokenizer": str(tokenizer_json),
        "splits": {
            name: {
                "documents": sum(c["documents"] for _, c in parts),
                "text_bytes": sum(c["text_bytes"] for _, c in parts),
                "tokens": sum(c["tokens"] for _, c in parts),
                "shards": [{"file": str(Path(f).relative_to(folder)), "tokens": c["tokens"]} for f, c in parts],
            }
            for name, parts in splits.items()
        },
    }
    write_json(Path(folder) / "meta.json", meta)
    return meta


def shard(tokenizer_json: Path, splits: dict[str, list[Path]], out_dir: Path, batch_bytes: int) -> dict:
    """Encode each split's parquet parts into `out_dir` and index them: what the shard_part
    and shard steps do as separate jobs, in one call."""
    written = {}
    for name, parquets in splits.items():
        outs = [Path(out_dir) / name / f"part-{i:05d}.bin" for i in range(len(parquets))]
        written[name] = [
            (out, shard_part(tokenizer_json, p, out, batch_bytes)) for out, p in zip(outs, parquets, strict=True)
        ]
    return write_meta(Path(out_dir), tokenizer_json, written)


class TokenShards:
    """Random (x, y) training windows from a split's shards, straight off the memmaps."""

    def __init__(self, folder: str | Path, split: str):
        folder = Path(folder)
        meta_path = folder / "meta.json"
        try:
            entries = json.loads(meta_path.read_text())["splits"][split]["shards"]
        except FileNotFoundError:
            raise InputError(f"{folder}: no meta.json; not a minnow shard folder") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{meta_path}: no readable '{split}' split ({type(e).__name__}: {e})") from None
        self.where = f"{folder} ({split})"
        self.arrays = [open_shard(folder / s["file"]) for s in entries]
        self.tokens = sum(len(a) for a in self.arrays)

    def sample(self, batch_size: int, length: int, rng: np.random.Generator, rows: slice | None = None) -> np.ndarray:
        """`batch_size` random runs of `length` consecutive tokens, as int64 (batch, length).

        All offsets are drawn, but only the `rows` asked for are read: a DDP rank
        draws the whole global batch (so every rank agrees on it) and reads its part.
        """
        usable = np.array([max(len(a) - length + 1, 0) for a in self.arrays], dtype=np.float64)
        if usable.sum() == 0:
            raise InputError(
                f"{self.where}: {self.tokens} tokens, too few for windows of {length}; "
                "give this split more data (val_fraction, sources) or the model a shorter context"
            )
        picks = rng.choice(len(self.arrays), size=batch_size, p=usable / usable.sum())
        offsets = (rng.random(batch_size) * usable[picks]).astype(np.int64)
        chosen = range(batch_size)[rows or slice(None)]
        return np.stack([self.arrays[picks[i]][offsets[i] : offsets[i] + length] for i in chosen]).astype(np.int64)
