"""The download stage: fetch one part of one source into its raw folder, with a manifest.

Four kinds of source: `builtin` (generated or shipped with Python; the offline
default), `local` (files or globs), `url` (HTTP(S), checksummed, unpacked once by
`fetch`) and `hf` (a Hugging Face dataset through `datasets`, streamed with a
cap). Each is read as parts (`minnow.data.parts`); whatever the kind, a part's
output is a folder of raw files minnow can read (JSONL, text, parquet) and
`manifest.json` recording where each came from (the source file and byte range
for a cut file), its revision, sha256, size and document count. The folder is
built under a temporary name and renamed, so a failed download leaves nothing
behind.
"""

import glob
import json
import os
from pathlib import Path

import minnow
from minnow.atomic import atomic_dir, write_json
from minnow.data import fetch as fetching
from minnow.data.parts import byte_slices, index_range
from minnow.data.readers import SUFFIXES
from minnow.digests import sha256_file
from minnow.errors import InputError

CHUNK = 1 << 20


def _write_jsonl(path: Path, records) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _builtin(spec: dict, folder: Path, part: int, parts: int) -> tuple[str, str | None]:
    from minnow.data.builtin import guppy, python_docs

    if spec["generator"] == "guppy":
        start, stop = index_range(spec["count"], part, parts)
        _write_jsonl(folder / "guppy.jsonl", guppy.generate(stop, spec["seed"], start))
        return f"builtin:guppy?count={spec['count']}&seed={spec['seed']}", f"minnow-{minnow.__version__}"
    _write_jsonl(folder / "python-docs.jsonl", python_docs.generate(spec.get("max_documents"), part, parts))
    return "builtin:python-docs", python_docs.revision()


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/0001-name` and on, when files from different folders share a name."""
    target, n = folder / name, 0
    while target.exists():
        n += 1
        target = folder / f"{n:04d}-{name}"
    return target


def readable(files: list[Path], where: str) -> list[Path]:
    """The files minnow reads, refusing a source that has none."""
    found = [f for f in files if f.suffix in SUFFIXES]
    if not found:
        names = ", ".join(f.name for f in files[:5]) or "nothing"
        raise InputError(f"{where} has no {'/'.join(SUFFIXES)} file (found: {names})")
    return found


def _copy_slices(
    files: list[Path], folder: Path, part: int, parts: int, whole_text: bool, root: Path | None = None
) -> dict[str, dict]:
    """Copy this part's byte ranges of `files` into `folder` (under their path below `root`, or
    their name); return each copy's origin by its path in `folder`."""
    origins = {}
    for path, begin, end in byte_slices(files, part, parts, whole_text):
        target = folder / path.relative_to(root) if root else _free_name(folder, path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src, open(target, "wb") as dst:
            src.seek(begin)
            left = end - begin
            while left and (chunk := src.read(min(CHUNK, left))):
                dst.write(chunk)
                left -= len(chunk)
        origins[str(target.relative_to(folder))] = {"file": str(path), "begin": begin, "end": end}
    return origins


def _local(spec: dict, folder: Path, part: int, parts: int, whole_text: bool) -> tuple[str, None, dict]:
    files = []
    for pattern in spec["paths"]:
        # a recursive glob ("data/**") matches folders too; only files are read
        matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise InputError(f"local source: '{pattern}' matches no file")
        files += [m for m in matches if m not in files]
    files = readable(files, "local source " + ", ".join(spec["paths"]))
    return "local:" + ",".join(spec["paths"]), None, _copy_slices(files, folder, part, parts, whole_text)


def _url(spec: dict, folder: Path, part: int, parts: int, whole_text: bool, fetched: Path) -> tuple[str, None, dict]:
    files = sorted(p for p in Path(fetched).rglob("*") if p.is_file())
    files = readable(files, f"{spec['url']} (unpacked in {fetched})")
    return spec["url"], None, _copy_slices(files, folder, part, parts, whole_text, Path(fetched))


def _hf(spec: dict, folder: Path, part: int, parts: int) -> tuple[str, str | None]:
    from minnow.data.hf import stream_to_parquet

    stream_to_parquet(spec, folder / "data.parquet", part, parts)
    origin = "hf:" + "/".join(str(spec[k]) for k in ("path", "name", "split") if spec.get(k))
    return origin, spec.get("revision")


def _count_documents(path: Path) -> int | None:
    if path.suffix == ".jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


def _describe(folder: Path, origins: dict[str, dict]) -> list[dict]:
    """Each raw file's entry in the manifest; a copied slice also names its origin."""
    entries = []
    for p in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES):
        path = str(p.relative_to(folder))
        entries.append(
            {
                "path": path,
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
                "documents": _count_documents(p),
                **({"origin": origins[path]} if path in origins else {}),
            }
        )
    return entries


def download(
    name: str,
    spec: dict,
    part: int,
    parts: int,
    out_dir: str | Path,
    whole_text: bool = False,
    fetched: Path | None = None,
) -> dict:
    """Fetch part `part` of `parts` of source `name` as `spec` says into `out_dir`; return its
    manifest. `whole_text`: some corpus reads this source's text files whole, so none is cut.
    `fetched`: a `url` source's unpacked download (the `fetch` step's folder)."""
    with atomic_dir(out_dir) as folder:
        origins = {}
        try:
            if spec["kind"] == "builtin":
                origin, revision = _builtin(spec, folder, part, parts)
            elif spec["kind"] == "hf":
                origin, revision = _hf(spec, folder, part, parts)
            elif spec["kind"] == "local":
                origin, revision, origins = _local(spec, folder, part, parts, whole_text)
            else:
                origin, revision, origins = _url(spec, folder, part, parts, whole_text, fetched)
        except InputError as e:
            raise InputError(f"source '{name}': {e}") from None
        files = _describe(folder, origins)
        counts = [f["documents"] for f in files]
        manifest = {
            "source": name,
            "kind": spec["kind"],
            "origin": origin,
            "revision": revision,
            "part": part,
            "parts": parts,
            "files": files,
            "bytes": sum(f["bytes"] for f in files),
            "documents": None if None in counts else sum(counts),
        }
        write_json(folder / "manifest.json", manifest)
    return manifest


def fetch(name: str, spec: dict, out_dir: str | Path) -> dict:
    """Download a `url` source once, check its sha256 and unpack it into `out_dir`, for its parts."""
    with atomic_dir(out_dir) as folder:
        try:
            archive = fetching.http_download(spec["url"], folder, spec.get("sha256"))
            fetching.unpack(archive)
            readable(sorted(p for p in folder.rglob("*") if p.is_file()), spec["url"])
        except InputError as e:
            raise InputError(f"source '{name}': {e}") from None
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        return {"url": spec["url"], "files": len(files), "bytes": sum(p.stat().st_size for p in files)}
