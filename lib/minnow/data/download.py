"""The download stage: fetch one source into its raw folder with a manifest.

Four kinds of source: `builtin` (generated or shipped with Python; the offline
default), `local` (files or globs), `url` (HTTP(S), checksummed, unpacked) and
`hf` (a Hugging Face dataset through `datasets`, streamed with a cap). Whatever
the kind, the output is a folder of raw files minnow can read (JSONL, text,
parquet) and `manifest.json` recording where each came from, its revision,
sha256, size and document count. The folder is built under a temporary name and
renamed, so a failed download leaves nothing behind.
"""

import glob
import json
import os
import shutil
from pathlib import Path

import minnow
from minnow.atomic import atomic_dir, write_json
from minnow.data import fetch
from minnow.data.readers import SUFFIXES
from minnow.digests import sha256_file
from minnow.errors import InputError


def _write_jsonl(path: Path, records) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _builtin(spec: dict, folder: Path) -> tuple[str, str | None]:
    from minnow.data.builtin import guppy, python_docs

    generator = spec["generator"]
    if generator == "guppy":
        _write_jsonl(folder / "guppy.jsonl", guppy.generate(spec["count"], spec["seed"]))
        return f"builtin:guppy?count={spec['count']}&seed={spec['seed']}", f"minnow-{minnow.__version__}"
    _write_jsonl(folder / "python-docs.jsonl", python_docs.generate(spec.get("max_documents")))
    return "builtin:python-docs", python_docs.revision()


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/0001-name` and on, when files from different folders share a name."""
    target, n = folder / name, 0
    while target.exists():
        n += 1
        target = folder / f"{n:04d}-{name}"
    return target


def _local(spec: dict, folder: Path) -> tuple[str, None]:
    for pattern in spec["paths"]:
        # a recursive glob ("data/**") matches folders too; only files are copied
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise InputError(f"local source: '{pattern}' matches no file")
        for match in matches:
            shutil.copyfile(match, _free_name(folder, Path(match).name))
    return "local:" + ",".join(spec["paths"]), None


def _url(spec: dict, folder: Path) -> tuple[str, None]:
    archive = fetch.http_download(spec["url"], folder, spec.get("sha256"))
    fetch.unpack(archive)
    return spec["url"], None


def _hf(spec: dict, folder: Path) -> tuple[str, str | None]:
    from minnow.data.hf import stream_to_parquet

    stream_to_parquet(spec, folder / "data.parquet")
    origin = "hf:" + "/".join(str(spec[k]) for k in ("path", "name", "split") if spec.get(k))
    return origin, spec.get("revision")


KINDS = {"builtin": _builtin, "local": _local, "url": _url, "hf": _hf}


def _count_documents(path: Path) -> int | None:
    if path.suffix == ".jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


def _describe(folder: Path) -> list[dict]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    readable = [p for p in files if p.suffix in SUFFIXES]
    if not readable:
        found = ", ".join(p.name for p in files[:5]) or "nothing"
        raise InputError(f"source has no {'/'.join(SUFFIXES)} file after download (found: {found})")
    for p in files:
        if p not in readable:
            p.unlink()
    return [
        {
            "path": str(p.relative_to(folder)),
            "sha256": sha256_file(p),
            "bytes": p.stat().st_size,
            "documents": _count_documents(p),
        }
        for p in readable
    ]


def download(name: str, spec: dict, out_dir: str | Path) -> dict:
    """Fetch source `name` as `spec` says into `out_dir`; return its manifest."""
    with atomic_dir(out_dir) as folder:
        try:
            origin, revision = KINDS[spec["kind"]](spec, folder)
            files = _describe(folder)
        except InputError as e:
            raise InputError(f"source '{name}': {e}") from None
        counts = [f["documents"] for f in files]
        manifest = {
            "source": name,
            "kind": spec["kind"],
            "origin": origin,
            "revision": revision,
            "files": files,
            "bytes": sum(f["bytes"] for f in files),
            "documents": None if None in counts else sum(counts),
        }
        write_json(folder / "manifest.json", manifest)
    return manifest
