"""shard_part: encode one part of a corpus split into one token shard.

input:  tokenizer — tokenizer.json; parquet — the part's parquet
output: shard — the .bin file; counts — its documents, text bytes and tokens
params: batch_bytes — text encoded per tokenizer call
"""

from pathlib import Path

from minnow.atomic import write_json
from minnow.tokens import shards, tokenizer
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="shard_part") as run:
    tokenizer.use_threads(snakemake.threads)
    inp, out = snakemake.input, snakemake.output
    counts = shards.shard_part(Path(inp.tokenizer), Path(inp.parquet), Path(out.shard), snakemake.params.batch_bytes)
    write_json(out.counts, counts)
    run.log_metrics(counts)
