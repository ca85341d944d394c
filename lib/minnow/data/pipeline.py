"""The corpus stage in one process: prepare_part for every part, dedup, mix_part for every part.

Snakemake runs these as separate jobs (rules/prepare_corpus.smk), in parallel
where they can be; this runs the same functions in order, with the same file
layout, for tests, benchmarks and notebooks that want a corpus without a workflow.
"""

from pathlib import Path

from minnow.data.dedup import dedup_corpus
from minnow.data.mix import SPLITS, mix_part
from minnow.data.parts import part_settings
from minnow.data.prepare import prepare_part


def build_corpus(spec: dict, raw_parts: dict[str, list[Path]], out: Path) -> dict:
    """Build corpus `spec` (a validated corpora entry) from each source's raw part folders
    into `out` (prepared/, dedup/, train/, val/, heldout/, stats.json); return the stats."""
    out = Path(out)
    prepared = {}
    for source, folders in raw_parts.items():
        settings = part_settings(spec, source)
        prepared[source] = []
        for part, raw in enumerate(folders):
            base = out / "prepared" / source / f"part-{part:05d}"
            files = (Path(f"{base}.parquet"), Path(f"{base}.keys.parquet"), Path(f"{base}.json"))
            prepare_part(source, raw, settings["options"], settings["filters"], settings["signature"], *files)
            prepared[source].append(files)
    stats = dedup_corpus(
        spec,
        prepared,
        out / "dedup" / "drops.parquet",
        out / "dedup" / "plan.json",
        out / "stats.json",
    )
    for source, files in prepared.items():
        for part, (survivors, _, _) in enumerate(files):
            outs = {split: out / split / source / f"part-{part:05d}.parquet" for split in SPLITS}
            mix_part(survivors, out / "dedup" / "drops.parquet", out / "dedup" / "plan.json", source, part, outs)
    return stats
