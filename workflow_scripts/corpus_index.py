"""corpus_index: corpus.json, the mixed corpus's train and val parts with their documents and bytes.

input:  train, val — every mix part's parquet, in the corpus's part order
output: index — results/corpus/{corpus}/corpus.json
params: none beyond the code digest
"""

from minnow.atomic import write_json
from minnow.data.corpus_index import corpus_index
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="corpus_index") as run:
    splits = {"train": list(snakemake.input.train), "val": list(snakemake.input.val)}
    index = corpus_index(snakemake.wildcards.corpus, splits)
    write_json(snakemake.output.index, index)
    run.log_metrics({f"{s}_{k}": index["splits"][s][k] for s in splits for k in ("documents", "bytes")})
