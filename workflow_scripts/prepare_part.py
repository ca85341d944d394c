"""prepare_part: read, normalise and filter one part of one source of a corpus; key it for dedup.

input:  raw — the part's raw folder
output: survivors — parquet (id, text, source, messages); dedup_keys — parquet (row, id, bytes,
        words, stream, MinHash signature); stats — documents and bytes in, dropped by each filter
        and skipped by each filter that leaves streams alone
params: settings — the source's reading options, the corpus's filters, the signature settings
"""

from pathlib import Path

from minnow.data.prepare import prepare_part
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="prepare_part") as run:
    s, out = snakemake.params.settings, snakemake.output
    stats = prepare_part(
        snakemake.wildcards.source,
        Path(snakemake.input.raw),
        s["options"],
        s["filters"],
        s["signature"],
        Path(out.survivors),
        Path(out.dedup_keys),
        Path(out.stats),
    )
    run.log_metrics({f"{step}_{k}": v for step, entry in stats["steps"].items() for k, v in entry.items()})
