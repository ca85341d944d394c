"""shard: encode a corpus's train and val splits into memmappable token shards.

input:  tokenizer — tokenizer.json; train, val — the corpus's parquet splits
output: shards — folder of {split}_NNNN.bin and meta.json
params: shard — max_tokens_per_file, batch_bytes
"""

from minnow import shards, tokenizer, tracking

with tracking.step_run(snakemake, step="shard") as run:
    tokenizer.use_threads(snakemake.threads)
    inp, spec = snakemake.input, snakemake.params.shard
    splits = {"train": inp.train, "val": inp.val}
    meta = shards.shard(inp.tokenizer, splits, snakemake.output.shards, spec["max_tokens_per_file"], spec["batch_bytes"])
    run.log_metrics({f"{name}_{k}": s[k] for name, s in meta["splits"].items() for k in ("tokens", "documents", "text_bytes")})
    run.log_dict(meta, "meta.json")
