"""stats.json of a corpus: what each filter, dedup and the mix did to each source.

The counts come from the parts' own stats (documents and bytes in, dropped by
each filter, and skipped by each filter that leaves streams alone) and from the
dedup step's keys (duplicates, the split and the mix's copies), so the dedup job
writes the whole file without reading a text, but for the stream a tail split
cuts in two (`cut_at_tail` counts it). So per source, train_before_mix plus
val_before_mix is `in` less every `dropped_*` step, in bytes, and in documents
once the `cut_at_tail` documents are added (each became two).
"""

from collections import defaultdict

import numpy as np

from minnow.data import mix
from minnow.errors import InputError


def _entry() -> dict:
    return {"documents": 0, "bytes": 0}


class CorpusSourceCounts:
    """A corpus's totals, summed over its parts: documents and bytes per source and step;
    duplicates per source, step and original source."""

    def __init__(self, sources: list[str], part_stats: list[dict]):
        self.sources = sources
        self.counts = {s: defaultdict(_entry) for s in sources}
        self.duplicates = {s: defaultdict(lambda: defaultdict(int)) for s in sources}
        for stats in part_stats:
            for step, entry in stats["steps"].items():
                self._add(stats["source"], step, entry["documents"], entry["bytes"])
        for source in sources:
            self.counts[source]["in"]  # a source with no documents still has its "in" row

    def _add(self, source: str, step: str, documents: int, size: int) -> None:
        self.counts[source][step]["documents"] += int(documents)
        self.counts[source][step]["bytes"] += int(size)

    def add_duplicates(self, keys, reason: np.ndarray, keeper: np.ndarray, sources: list[str]) -> None:
        for i in np.flatnonzero(reason != ""):
            source = sources[keys.source[i]]
            self._add(source, f"dropped_{reason[i]}", 1, keys.bytes[i])
            self.duplicates[source][reason[i]][sources[keys.source[keeper[i]]]] += 1

    def add_cut(self, source: str, size: int) -> None:
        """Count a stream the tail split cut in two (its head to train, its tail to val)."""
        self._add(source, "cut_at_tail", 1, size)

    def check(self, train_size: dict[str, int]) -> None:
        """Stop with a message if a source read nothing, or has nothing left for train."""
        for source in self.sources:
            if self.counts[source]["in"]["documents"] == 0:
                raise InputError(f"source '{source}' has no documents")
        empty = [s for s, size in train_size.items() if size == 0]
        if empty:
            lines = "\n  ".join(self.describe(s) for s in self.sources)
            raise InputError(f"no train documents left in source(s) {', '.join(empty)}:\n  {lines}")

    def add_split(self, keys, kept: np.ndarray, val: np.ndarray, sources: list[str]) -> None:
        """Count the kept documents going to train and to val, before mixing."""
        for i in np.flatnonzero(kept):
            self._add(sources[keys.source[i]], "val_before_mix" if val[i] else "train_before_mix", 1, keys.bytes[i])

    def add_mix(
        self, keys, kept: np.ndarray, val: np.ndarray, factors: dict, seed: int, measure: np.ndarray, sources: list[str]
    ) -> dict[str, int]:
        """Count the copies the mix puts in each split; return each source's train size in the mix unit."""
        units = dict.fromkeys(sources, 0)
        for i in np.flatnonzero(kept):
            source, size = sources[keys.source[i]], keys.bytes[i]
            split, copies = mix.assign(keys.ids[i], source, bool(val[i]), factors[source], seed)
            if copies:
                self._add(source, split, copies, copies * size)
            if split == "train":
                units[source] += copies * int(measure[i])
        return units

    def describe(self, source: str) -> str:
        """One line of what became of a source, for a message about it:
        `exodus: 40 in, 40 exact duplicates of documents in source 'kjv'`."""
        counts = self.counts[source]
        parts = [f"{counts['in']['documents']} in"]
        for step, entry in counts.items():
            if not step.startswith("dropped_"):
                continue
            reason = step.removeprefix("dropped_")
            if reason in self.duplicates[source]:
                parts += [
                    f"{n} {reason.replace('_', ' ')}s of documents in source '{original}'"
                    for original, n in self.duplicates[source][reason].items()
                ]
            else:
                parts.append(f"{entry['documents']} dropped by the {reason} filter")
        parts += [
            f"{counts[split]['documents']} to {split.removesuffix('_before_mix')}"
            for split in ("train_before_mix", "val_before_mix")
            if split in counts
        ]
        return f"{source}: " + ", ".join(parts)

    def stats(self, mix_by: str, factors: dict, units: dict) -> dict:
        counts = {s: dict(steps) for s, steps in self.counts.items()}
        duplicates = {s: {step: dict(o) for step, o in d.items()} for s, d in self.duplicates.items() if d}
        total = sum(units.values()) or 1
        mix_report = {
            s: {
                "factor": round(f, 6),
                "bytes": counts[s].get("train", _entry())["bytes"],
                mix_by: units[s],
                "share": units[s] / total,
            }
            for s, f in factors.items()
        }
        totals = defaultdict(_entry)
        for steps in counts.values():
            for step, entry in steps.items():
                totals[step]["documents"] += entry["documents"]
                totals[step]["bytes"] += entry["bytes"]
        return {
            "mix_by": mix_by,
            "sources": counts,
            "duplicates": duplicates,
            "mix": mix_report,
            "totals": dict(totals),
        }
