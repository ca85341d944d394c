"""prepare_corpus: filter, dedup, mix and split a corpus into train/val parquet.

input:  one raw folder per source of the corpus, named by source
output: train, val — parquet (id, text, source, messages); stats — stats.json
params: corpus — the corpus's config entry (sources and weights, filters, dedup, split)
"""

from minnow import tracking
from minnow.data.prepare import prepare_corpus

with tracking.step_run(snakemake, step="prepare_corpus") as run:
    out = snakemake.output
    stats = prepare_corpus(snakemake.params.corpus, dict(snakemake.input.items()), out.train, out.val, out.stats)
    run.log_metrics({f"{step}_{k}": v for step, entry in stats["totals"].items() for k, v in entry.items()})
    run.log_artifact(out.stats)
