"""eval_set: write the exact text every model is scored on, capped in bytes.

input:  val — the corpus's val.parquet (for val-<corpus> sets only)
output: text — results/eval/{evalset}.txt; meta — its origin, size, cap, sha256
params: spec — kind (corpus_val, local, hf) and its settings; max_bytes — the cap
"""

from pathlib import Path

from minnow import tracking
from minnow.eval import eval_sets

with tracking.step_run(snakemake, step="eval_set") as run:
    source = Path(snakemake.input.val) if "val" in snakemake.input.keys() else None
    out = snakemake.output
    meta = eval_sets.build(snakemake.wildcards.evalset, snakemake.params.spec, source, Path(out.text), Path(out.meta),
                          snakemake.params.max_bytes)
    run.log_metrics({"bytes": meta["bytes"], "documents": meta["documents"]})
