"""mix_part: one part's train and val parquet, after dedup's drops and as its mix plan says.

input:  survivors — the part's prepared parquet; drops — the corpus's drop list; plan — mix factors
output: train, val — parquet (id, text, source, messages), as mixed; heldout — every held-out
        document once, before the mix thins it (what ppl.json scores)
params: none beyond the code digest
"""

from pathlib import Path

from minnow.data.mix import mix_part
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="mix_part") as run:
    inp, out, w = snakemake.input, snakemake.output, snakemake.wildcards
    outs = {split: Path(out[split]) for split in ("train", "val", "heldout")}
    written = mix_part(Path(inp.survivors), Path(inp.drops), Path(inp.plan), w.source, int(w.part), outs)
    run.log_metrics({f"{split}_documents": n for split, n in written.items()})
