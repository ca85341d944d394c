"""download: fetch one source into results/raw/{source}/ with manifest.json.

input:  none
output: raw — the source's folder of raw files and manifest.json
params: source — the source's config entry (kind and its settings)
"""

from minnow import tracking
from minnow.data.download import download

with tracking.step_run(snakemake, step="download") as run:
    manifest = download(snakemake.wildcards.source, snakemake.params.source, snakemake.output.raw)
    run.log_metrics({"bytes": manifest["bytes"], "documents": manifest["documents"], "files": len(manifest["files"])})
    run.log_dict(manifest, "manifest.json")
