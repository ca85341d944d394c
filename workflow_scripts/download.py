"""download: fetch one part of one source into results/raw/{source}/part-{part}/ with manifest.json.

input:  fetched — a url source's unpacked download (url sources only)
output: raw — the part's folder of raw files and manifest.json
params: source — the source's config entry; parts — how many parts it is read as;
        whole_text — some corpus reads its text files whole (none is cut);
        files — digests of the local files it reads (a rerun trigger)
"""

from minnow.data.download import download
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="download") as run:
    p = snakemake.params
    manifest = download(
        snakemake.wildcards.source,
        p.source,
        int(snakemake.wildcards.part),
        p.parts,
        snakemake.output.raw,
        p.whole_text,
        snakemake.input.get("fetched"),
    )
    run.log_metrics({"bytes": manifest["bytes"], "documents": manifest["documents"], "files": len(manifest["files"])})
    run.log_dict(manifest, "manifest.json")
