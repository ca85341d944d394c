"""corpus.json: the mixed corpus as one file, written once every mix part is done.

The corpus stage ends in many parquet parts (one per source part and split), and
its stats.json comes from dedup, before the mix. A user who wants "the corpus,
ready" needs one target that only exists when every part does: this index lists
each split's part files with their documents and UTF-8 text bytes, and the
split's totals, so a notebook or another tool can open the corpus from it alone.
"""

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq


def part_entry(path: Path) -> dict:
    """A part's file, documents and text bytes, read a row group at a time (bounded memory)."""
    parquet = pq.ParquetFile(path)
    text_bytes = sum(
        pc.sum(pc.binary_length(parquet.read_row_group(g, columns=["text"])["text"])).as_py() or 0
        for g in range(parquet.num_row_groups)
    )
    return {"path": str(path), "documents": parquet.metadata.num_rows, "bytes": text_bytes}


def corpus_index(corpus: str, splits: dict[str, list[Path]]) -> dict:
    """corpus.json's content: per split its parts (in the corpus's part order) and totals."""
    index = {"corpus": corpus, "splits": {}}
    for split, paths in splits.items():
        parts = [part_entry(Path(p)) for p in paths]
        index["splits"][split] = {
            "documents": sum(p["documents"] for p in parts),
            "bytes": sum(p["bytes"] for p in parts),
            "parts": parts,
        }
    return index
