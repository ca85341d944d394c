"""Token shards: the shard stage's writer and the training reader.

A shard is a 32-byte header (magic `MINNOWTK`, format version, bytes per token,
token count) followed by the token ids as little-endian uint16 (vocab up to
65,536) or uint32. The header makes a shard self-describing and lets the reader
refuse a truncated or foreign file instead of training on garbage; the raw array
after it is read through `numpy.memmap`, so a batch costs a few page faults, not
a copy of the corpus into RAM.

Documents are separated by EOS. Chat documents are laid out turn by turn as
`<|role|> content <|end|>`, so the train stage can find assistant answers from
the ids alone.
"""

import itertools
import json
import struct
from pathlib import Path

import numpy as np

from minnow import tokenizer
from minnow.atomic import atomic_dir, write_json
from minnow.errors import InputError

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


class ShardWriter:
    """Appends token arrays to `{split}_NNNN.bin`, starting a new file every `max_tokens`."""

    def __init__(self, folder: Path, split: str, dtype: np.dtype, max_tokens: int):
        self.folder, self.split, self.dtype, self.max_tokens = folder, split, dtype, max_tokens
        self.shards: list[dict] = []
        self._file, self._count = None, 0

    def _open(self) -> None:
        name = f"{self.split}_{len(self.shards):04d}.bin"
        self.shards.append({"file": name, "tokens": 0})
        self._file = open(self.folder / name, "wb")
        self._file.write(b"\0" * HEADER.size)
        self._count = 0

    def _close_file(self) -> None:
        self._file.seek(0)
        self._file.write(HEADER.pack(MAGIC, VERSION, self.dtype.itemsize, self._count))
        self._file.close()
        self.shards[-1]["tokens"] = self._count
        self._file = None

    def write(self, ids: np.ndarray) -> None:
        while len(ids):
            if self._file is None:
                self._open()
            room = self.max_tokens - self._count
            part, ids = ids[:room], ids[room:]
            self._file.write(part.astype(self.dtype).tobytes())
            self._count += len(part)
            if self._count >= self.max_tokens:
                self._close_file()

    def close(self) -> list[dict]:
        if self._file is not None:
            self._close_file()
        return self.shards


def _encode_batch(tok, rows: list[dict], marker: dict[str, int]) -> np.ndarray:
    """One array for a batch of documents, each encoded and followed by EOS; the
    tokenizer encodes the whole batch at once, in parallel, without offsets."""
    docs = [tokenizer.segments(r["text"], r["messages"], marker) for r in rows]
    encodings = iter(tok.encode_batch_fast([text for doc in docs for _, text, _ in doc], add_special_tokens=False))
    pieces = []
    for doc in docs:
        for before, _, after in doc:
            pieces += [before, next(encodings).ids, after]
        pieces.append([marker["eos"]])
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


def encode_split(tok, parquet: Path, writer: ShardWriter, batch_bytes: int) -> dict:
    """Stream one split's parquet through the tokenizer into shards."""
    marker = tokenizer.markers(tok)
    documents = text_bytes = 0
    for rows in _batches(parquet, batch_bytes):
        writer.write(_encode_batch(tok, rows, marker))
        documents += len(rows)
        text_bytes += sum(len(r["text"].encode("utf-8")) for r in rows)
    shards = writer.close()
    return {"documents": documents, "text_bytes": text_bytes, "tokens": sum(s["tokens"] for s in shards), "shards": shards}


def shard(tokenizer_json, splits: dict[str, Path], out_dir, max_tokens_per_shard: int, batch_bytes: int) -> dict:
    """Encode each split's parquet into `out_dir`; write and return meta.json."""
    tok = tokenizer.load(tokenizer_json)
    vocab = tok.get_vocab_size()
    dtype = dtype_for(vocab)
    with atomic_dir(out_dir) as folder:
        meta = {
            "format": {"magic": MAGIC.decode(), "version": VERSION, "header_bytes": HEADER.size},
            "dtype": dtype.name,
            "vocab_size": vocab,
            "eos_id": tokenizer.special_id(tok, "eos"),
            "tokenizer": str(tokenizer_json),
            "splits": {
                name: encode_split(tok, Path(parquet), ShardWriter(folder, name, dtype, max_tokens_per_shard), batch_bytes)
                for name, parquet in splits.items()
            },
        }
        write_json(folder / "meta.json", meta)
    return meta


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
            raise InputError(f"{self.where}: {self.tokens} tokens, too few for windows of {length}; "
                             "give this split more data (val_fraction, sources) or the model a shorter context")
        picks = rng.choice(len(self.arrays), size=batch_size, p=usable / usable.sum())
        offsets = (rng.random(batch_size) * usable[picks]).astype(np.int64)
        chosen = range(batch_size)[rows or slice(None)]
        return np.stack([self.arrays[picks[i]][offsets[i] : offsets[i] + length] for i in chosen]).astype(np.int64)
