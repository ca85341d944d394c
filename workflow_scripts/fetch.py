"""fetch: download a `url` source once and unpack it, for its download parts to read.

input:  none
output: results/fetched/{source}/ — the unpacked download
params: source — the source's config entry (url, sha256)
"""

from minnow.data.download import fetch
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="fetch") as run:
    result = fetch(snakemake.wildcards.source, snakemake.params.source, snakemake.output[0])
    run.log_metrics({"files": result["files"], "bytes": result["bytes"]})
