"""shard: index a corpus's shards for one tokenizer in meta.json, the file training opens.

input:  {train,val}_shards — the .bin files; {train,val}_counts — their counts (same order);
        tokenizer — tokenizer.json
output: results/shards/{corpus}/{tokenizer}/meta.json
params: none beyond the code digest
"""

import json
from pathlib import Path

from minnow.tokens import shards
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="shard") as run:
    inp = snakemake.input
    splits = {
        split: [
            (Path(b), json.loads(Path(c).read_text()))
            for b, c in zip(inp[f"{split}_shards"], inp[f"{split}_counts"], strict=True)
        ]
        for split in ("train", "val")
    }
    meta = shards.write_meta(Path(snakemake.output[0]).parent, Path(inp.tokenizer), splits)
    run.log_metrics(
        {f"{name}_{k}": s[k] for name, s in meta["splits"].items() for k in ("tokens", "documents", "text_bytes")}
    )
    run.log_dict(meta, "meta.json")
