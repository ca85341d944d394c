"""A train job's model folder loads in minnow and in transformers."""

import torch

from minnow.model import model_folder

from training_runs import VOCAB, spec, train_in_process


def test_saved_model_loads_in_minnow_and_transformers_with_equal_logits(tmp_path, chat_shards):
    from transformers import AutoModelForCausalLM

    train_in_process(tmp_path, chat_shards, spec(steps=5))
    ours = model_folder.load_model(tmp_path)
    hf = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, VOCAB, (2, 32))
    with torch.no_grad():
        assert torch.allclose(ours(idx)[0], hf(idx).logits, atol=1e-4)


def test_a_run_planned_far_past_its_train_split_says_so(tmp_path, caplog):
    """About 1,400 tokens of train text, 40 steps of 8 x 32 tokens: some 7 passes is quiet,
    twice the steps (15 passes) warns, naming the real-data configs."""
    import logging

    import pyarrow as pa
    import pyarrow.parquet as pq

    from minnow.tokens import shards, tokenizer

    from conftest import train_job

    rows = [{"text": f"the guppy swims round the castle, lap {i}.", "messages": None} for i in range(120)]
    for split, part in (("train", rows[:100]), ("val", rows[100:])):
        pq.write_table(pa.Table.from_pylist(part), tmp_path / f"{split}.parquet")
    tokenizer.save(tokenizer.train([tmp_path / "train.parquet"], vocab_size=300), tmp_path / "tok")
    tok = tmp_path / "tok" / "tokenizer.json"
    splits = {s: [tmp_path / f"{s}.parquet"] for s in ("train", "val")}
    meta = shards.shard(tok, splits, tmp_path / "shards", 100_000)
    assert 1000 < meta["splits"]["train"]["tokens"] < 2000
    for steps, warned in ((40, False), (80, True)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="minnow.train.job"):
            job = train_job(
                tmp_path / f"run{steps}", tmp_path / "shards", tok, spec(steps=steps, eval_every=steps), VOCAB
            )
            job.run(progress=False, threads=1)
        assert ("passes over" in caplog.text and "config/fineweb-edu.yaml" in caplog.text) == warned, steps
