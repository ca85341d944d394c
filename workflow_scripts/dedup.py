"""dedup: exact and near-duplicates across every part of a corpus, from their keys; the mix plan.

input:  dedup_keys, stats — every part's keys and filter stats, in the corpus's source order
output: drops — parquet (source, part, row) of dropped documents; plan — mix factors and
        split settings; stats — the corpus's stats.json
params: corpus — sources and weights, mix_by, total, val_fraction, seed, dedup settings;
        parts — how many parts each source has (the inputs are in that order)
"""

from pathlib import Path

from minnow.data.dedup import dedup_corpus
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="dedup") as run:
    spec, inp, out = snakemake.params.corpus, snakemake.input, snakemake.output
    keys, stats = iter(inp.dedup_keys), iter(inp.stats)
    parts = {s: [(Path(next(keys)), Path(next(stats))) for _ in range(n)] for s, n in snakemake.params.parts.items()}
    result = dedup_corpus(spec, parts, Path(out.drops), Path(out.plan), Path(out.stats))
    run.log_metrics({f"{step}_{k}": v for step, entry in result["totals"].items() for k, v in entry.items()})
    run.log_artifact(out.stats)
