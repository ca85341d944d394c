"""dedup: exact and near-duplicates across every part of a corpus, from their keys; the mix plan.

input:  survivors, dedup_keys, stats — every part's documents, keys and filter stats, in the
        corpus's source order (of the documents, only a stream a tail split cuts is read)
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
    files = zip(inp.survivors, inp.dedup_keys, inp.stats, strict=True)
    parts = {s: [tuple(map(Path, next(files))) for _ in range(n)] for s, n in snakemake.params.parts.items()}
    result = dedup_corpus(spec, parts, Path(out.drops), Path(out.plan), Path(out.stats))
    run.log_metrics({f"{step}_{k}": v for step, entry in result["totals"].items() for k, v in entry.items()})
    run.log_artifact(out.stats)
