"""eval_set: write the exact documents every model is scored on, capped in bytes.

input:  val — the corpus's val parts (for val-<corpus> sets only)
output: documents — results/eval/{evalset}.jsonl; meta — its origin, size, cap, sha256
params: spec — kind (corpus_val, local, hf) and its settings; files — digests of the local
        files it reads (a rerun trigger); max_bytes — the cap
"""

from pathlib import Path

from minnow.eval import eval_sets
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="eval_set") as run:
    val_parts = [Path(p) for p in snakemake.input.get("val", [])]
    out = snakemake.output
    meta = eval_sets.build(
        snakemake.wildcards.evalset,
        snakemake.params.spec,
        val_parts,
        Path(out.documents),
        Path(out.meta),
        snakemake.params.max_bytes,
    )
    run.log_metrics({"bytes": meta["bytes"], "documents": meta["documents"]})
