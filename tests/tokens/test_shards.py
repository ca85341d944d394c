import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow.errors import InputError
from minnow.tokens import chat_layout, shards, tokenizer


@pytest.fixture(scope="module")
def shard_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shards")
    docs = [{"text": f"document {i} about fish number {i * 7}.", "messages": None} for i in range(300)]
    docs.append(
        {"text": "hi\nblub", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "blub"}]}
    )
    pq.write_table(pa.Table.from_pylist(docs[:150]), folder / "train-0.parquet")
    pq.write_table(pa.Table.from_pylist(docs[150:]), folder / "train-1.parquet")
    pq.write_table(pa.Table.from_pylist(docs[:20]), folder / "val.parquet")
    tokenizer.save(
        tokenizer.train([folder / "train-0.parquet", folder / "train-1.parquet"], vocab_size=320), folder / "tok"
    )
    meta = shards.shard(
        folder / "tok" / "tokenizer.json",
        {"train": [folder / "train-0.parquet", folder / "train-1.parquet"], "val": [folder / "val.parquet"]},
        folder / "out",
        batch_bytes=2000,
    )
    return folder, meta


def test_documents_are_separated_by_eos_one_shard_per_part_in_order(shard_folder):
    folder, meta = shard_folder
    train = meta["splits"]["train"]
    assert [s["file"] for s in train["shards"]] == ["train/part-00000.bin", "train/part-00001.bin"]
    ids = np.concatenate([shards.open_shard(folder / "out" / s["file"]) for s in train["shards"]])
    assert len(ids) == train["tokens"] and (ids == meta["eos_id"]).sum() == train["documents"] == 301
    tok = tokenizer.load(folder / "tok" / "tokenizer.json")
    first = ids[: np.argmax(ids == meta["eos_id"])]
    assert tok.decode(first.tolist()) == "document 0 about fish number 0."
    assert meta["dtype"] == "uint16" and json.loads((folder / "out" / "meta.json").read_text()) == meta


def test_chat_documents_are_laid_out_by_turn(shard_folder):
    folder, meta = shard_folder
    tok = tokenizer.load(folder / "tok" / "tokenizer.json")
    ids = np.concatenate([shards.open_shard(folder / "out" / s["file"]) for s in meta["splits"]["train"]["shards"]])
    last = ids[np.flatnonzero(ids == meta["eos_id"])[-2] + 1 : -1].tolist()
    layout = chat_layout.read(tok, folder / "tok" / "tokenizer.json")
    assert last == layout.encode_chat(
        tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "blub"}]
    )


def test_large_vocab_uses_uint32():
    assert shards.dtype_for(65536) == np.uint16 and shards.dtype_for(65537) == np.uint32


def test_truncated_shard_is_refused(shard_folder, tmp_path):
    folder, meta = shard_folder
    data = (folder / "out" / "train" / "part-00000.bin").read_bytes()
    cut = tmp_path / "train_0000.bin"
    cut.write_bytes(data[:-3])
    with pytest.raises(InputError, match=r"train_0000\.bin: truncated shard: header promises"):
        shards.open_shard(cut)
    cut.write_bytes(data[:10])
    with pytest.raises(InputError, match="shorter than its 32-byte header"):
        shards.open_shard(cut)


def test_foreign_file_is_refused(tmp_path):
    foreign = tmp_path / "train.bin"
    np.arange(100, dtype=np.uint16).tofile(foreign)
    with pytest.raises(InputError, match=r"train\.bin: not a minnow token shard"):
        shards.open_shard(foreign)


def test_samples_are_runs_of_consecutive_tokens_from_the_memmap(shard_folder):
    folder, _ = shard_folder
    reader = shards.TokenShards(folder / "out", "train")
    assert all(isinstance(a, np.memmap) for a in reader.arrays)
    batch = reader.sample(8, 17, np.random.default_rng(0))
    assert batch.shape == (8, 17) and batch.dtype == np.int64
    runs = np.concatenate([np.lib.stride_tricks.sliding_window_view(np.asarray(a), 17) for a in reader.arrays])
    assert all((runs == row).all(axis=1).any() for row in batch)
    assert (reader.sample(8, 17, np.random.default_rng(0)) == batch).all()


def test_context_longer_than_data_is_refused(shard_folder):
    folder, _ = shard_folder
    with pytest.raises(InputError, match="too few for windows of 100001"):
        shards.TokenShards(folder / "out", "val").sample(2, 100001, np.random.default_rng(0))


def test_a_rank_reads_its_rows_of_the_global_batch(shard_folder):
    folder, _ = shard_folder
    reader = shards.TokenShards(folder / "out", "train")
    whole = reader.sample(6, 9, np.random.default_rng(5))
    parts = [reader.sample(6, 9, np.random.default_rng(5), slice(r * 3, r * 3 + 3)) for r in range(2)]
    assert (np.concatenate(parts) == whole).all()
