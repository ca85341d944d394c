"""eval_set: write the exact documents every model is scored on, capped in bytes.

input:  heldout — the corpus's held-out parts (for val-<corpus> sets only)
output: documents — results/eval/{evalset}.jsonl; meta — its origin, size (per source too), cap, sha256
params: spec — kind (corpus_heldout, local, hf) and its settings; files — digests of the local
        files it reads (a rerun trigger); max_bytes — the cap (per source of a corpus's set)
"""

from pathlib import Path

from minnow.eval import eval_sets
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="eval_set") as run:
    heldout_parts = [Path(p) for p in snakemake.input.get("heldout", [])]
    out = snakemake.output
    meta = eval_sets.build(
        snakemake.wildcards.evalset,
        snakemake.params.spec,
        heldout_parts,
        Path(out.documents),
        Path(out.meta),
        snakemake.params.max_bytes,
    )
    run.log_metrics({"bytes": meta["bytes"], "documents": meta["documents"]})
