"""The download stage (`minnow.data.download.download`) for every kind of source.

`url` sources come from a real HTTP server on 127.0.0.1, `hf` sources are local
JSONL folders read through the real `datasets` library with the Hub switched
off, and every test checks both the files and the manifest that records them.
"""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow.data.download import download, fetch
from minnow.errors import InputError

from loopback import serve_folder

JSONL = b'{"text": "one"}\n{"text": "two"}\n\n{"text": "three"}\n'  # the blank line is no document


def tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Loopback HTTP server: yields a function turning a file name under its root into a URL."""
    root = tmp_path_factory.mktemp("www")
    (root / "docs.jsonl").write_bytes(JSONL)
    (root / "notes.txt.gz").write_bytes(gzip.compress(b"para one\n\npara two\n"))
    (root / "bundle.tar.gz").write_bytes(
        tar_gz(
            {
                "bundle/README.md": b"# not a corpus file\n",
                "bundle/LICENSE": b"CC0\n",
                "bundle/part-1.txt": b"first part\n",
                "bundle/sub/part-2.txt": b"second part\n",
                "bundle/docs.jsonl": JSONL,
            }
        )
    )
    (root / "docs-only.tar.gz").write_bytes(tar_gz({"README.md": b"# readme\n", "notes.md": b"notes\n"}))
    (root / "evil.tar.gz").write_bytes(tar_gz({"ok.txt": b"fine\n", "../evil.txt": b"escaped\n"}))

    with serve_folder(root) as base:
        yield lambda name: f"{base}/{name}"


@pytest.fixture
def out(tmp_path) -> Path:
    """Where a source lands; its parent holds nothing else, so leftovers are easy to see."""
    return tmp_path / "raw" / "src"


def get(name: str, spec: dict, out: Path, part: int = 0, parts: int = 1) -> dict:
    """A source's part as the workflow downloads it: a url source is fetched once, first."""
    fetched = None
    if spec["kind"] == "url":
        fetched = out.parent.parent / "fetched" / name
        fetch(name, spec, fetched)
    return download(name, spec, part, parts, out, fetched=fetched)


def read_manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_nothing_left(out: Path) -> None:
    """A failed download leaves neither the folder nor its hidden temporary twin."""
    assert not out.exists()
    leftovers = [p.name for p in out.parent.iterdir()] if out.parent.exists() else []
    assert leftovers == []


def assert_files_match_manifest(out: Path, manifest: dict) -> None:
    on_disk = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert on_disk == [f["path"] for f in manifest["files"]]
    for f in manifest["files"]:
        data = (out / f["path"]).read_bytes()
        assert f["sha256"] == sha(data)
        assert f["bytes"] == len(data)
    assert manifest["bytes"] == sum(f["bytes"] for f in manifest["files"])
    assert read_manifest(out) == manifest


# --- url -----------------------------------------------------------------------------------------


def test_url_jsonl_with_checksum(server, out):
    url = server("docs.jsonl")
    manifest = get("web", {"kind": "url", "url": url, "sha256": sha(JSONL)}, out)
    assert manifest["source"] == "web"
    assert manifest["kind"] == "url"
    assert manifest["origin"] == url
    assert manifest["revision"] is None
    fetched = str(out.parent.parent / "fetched" / "web" / "docs.jsonl")
    assert manifest["files"] == [
        {
            "path": "docs.jsonl",
            "sha256": sha(JSONL),
            "bytes": len(JSONL),
            "documents": 3,
            "origin": {"file": fetched, "begin": 0, "end": len(JSONL)},
        }
    ]
    assert manifest["documents"] == 3
    assert (out / "docs.jsonl").read_bytes() == JSONL
    assert_files_match_manifest(out, manifest)
    assert [p.name for p in out.parent.iterdir()] == ["src"]  # no temporary folder left


def test_url_gzip_text_has_unknown_document_count(server, out):
    manifest = get("notes", {"kind": "url", "url": server("notes.txt.gz")}, out)
    assert [f["path"] for f in manifest["files"]] == ["notes.txt"]
    assert manifest["files"][0]["documents"] is None
    assert manifest["documents"] is None  # text is split into documents later, by text_unit
    assert (out / "notes.txt").read_bytes() == b"para one\n\npara two\n"
    assert_files_match_manifest(out, manifest)


def test_url_checksum_mismatch_names_source_and_leaves_nothing(server, out):
    with pytest.raises(InputError) as err:
        get("web", {"kind": "url", "url": server("docs.jsonl"), "sha256": "ab" * 32}, out)
    message = str(err.value)
    assert message.startswith("source 'web': ")
    assert server("docs.jsonl") in message
    assert "ab" * 32 in message and sha(JSONL) in message
    assert not out.exists() and not (out.parent.parent / "fetched" / "web").exists()
    assert not list((out.parent.parent / "fetched").iterdir())  # no temporary folder either


def test_failed_download_keeps_the_previous_good_copy(server, out):
    get("web", {"kind": "url", "url": server("docs.jsonl")}, out)
    before = read_manifest(out)
    with pytest.raises(InputError):
        get("web", {"kind": "url", "url": server("missing.jsonl")}, out)
    assert read_manifest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["src"]


def test_url_archive_keeps_only_readable_files(server, out):
    manifest = get("bundle", {"kind": "url", "url": server("bundle.tar.gz")}, out)
    assert [f["path"] for f in manifest["files"]] == [
        "bundle/docs.jsonl",
        "bundle/part-1.txt",
        "bundle/sub/part-2.txt",
    ]
    assert not (out / "bundle" / "README.md").exists()
    assert not (out / "bundle" / "LICENSE").exists()
    assert not (out / "bundle.tar.gz").exists()
    assert (out / "bundle/sub/part-2.txt").read_bytes() == b"second part\n"
    assert [f["documents"] for f in manifest["files"]] == [3, None, None]
    assert_files_match_manifest(out, manifest)


def test_url_archive_without_readable_file_is_refused(server, out):
    with pytest.raises(
        InputError, match=r"source 'docs': http://.*docs-only\.tar\.gz has no \.jsonl/\.txt/\.parquet file"
    ) as err:
        get("docs", {"kind": "url", "url": server("docs-only.tar.gz")}, out)
    assert "README.md" in str(err.value)
    assert_nothing_left(out)


def test_url_hostile_archive_is_refused_and_writes_nothing_outside(server, out):
    with pytest.raises(InputError, match=r"source 'evil': .*evil\.tar\.gz: entry '\.\./evil\.txt'"):
        get("evil", {"kind": "url", "url": server("evil.tar.gz")}, out)
    assert_nothing_left(out)
    assert not (out.parent.parent / "evil.txt").exists()


# --- local ---------------------------------------------------------------------------------------


@pytest.fixture
def local_files(tmp_path) -> Path:
    src = tmp_path / "inputs"
    (src / "deep").mkdir(parents=True)
    (src / "a.jsonl").write_bytes(JSONL)
    (src / "b.txt").write_text("plain text\n")
    pq.write_table(pa.table({"text": ["p1", "p2", "p3", "p4"], "id": [1, 2, 3, 4]}), src / "c.parquet")
    (src / "deep" / "a.jsonl").write_bytes(b'{"text": "same name, other folder"}\n')
    return src


def test_local_glob_copies_every_match(local_files, out):
    pattern = str(local_files / "*.*")
    manifest = get("mine", {"kind": "local", "paths": [pattern]}, out)
    assert manifest["origin"] == f"local:{pattern}"
    assert [f["path"] for f in manifest["files"]] == ["a.jsonl", "b.txt", "c.parquet"]
    assert [f["documents"] for f in manifest["files"]] == [3, None, 4]
    assert manifest["documents"] is None
    for name in ("a.jsonl", "b.txt", "c.parquet"):
        assert (out / name).read_bytes() == (local_files / name).read_bytes()
    assert_files_match_manifest(out, manifest)


def test_local_counts_documents_when_every_file_can(local_files, out):
    spec = {"kind": "local", "paths": [str(local_files / "*.jsonl"), str(local_files / "*.parquet")]}
    manifest = get("mine", spec, out)
    assert manifest["documents"] == 3 + 4


def test_local_same_name_from_several_folders_keeps_every_file(local_files, tmp_path, out):
    third = tmp_path / "third"
    third.mkdir()
    (third / "a.jsonl").write_bytes(b'{"text": "third copy"}\n')
    sources = [local_files / "a.jsonl", local_files / "deep/a.jsonl", third / "a.jsonl"]
    manifest = get("mine", {"kind": "local", "paths": [str(p) for p in sources]}, out)
    assert len(manifest["files"]) == 3
    contents = sorted((out / f["path"]).read_bytes() for f in manifest["files"])
    expected = sorted(p.read_bytes() for p in sources)
    assert contents == expected
    assert manifest["documents"] == 3 + 1 + 1


def test_local_recursive_glob_skips_folders(local_files, out):
    manifest = get("mine", {"kind": "local", "paths": [str(local_files / "**")]}, out)
    assert len(manifest["files"]) == 4  # a.jsonl, b.txt, c.parquet and deep/a.jsonl; the folders are skipped
    assert manifest["documents"] is None


def test_local_glob_matching_nothing_names_the_pattern(tmp_path, out):
    pattern = str(tmp_path / "nowhere" / "*.jsonl")
    with pytest.raises(InputError, match="matches no file") as err:
        get("mine", {"kind": "local", "paths": [pattern]}, out)
    assert f"'{pattern}'" in str(err.value)
    assert str(err.value).startswith("source 'mine': ")
    assert_nothing_left(out)


# --- hf (local files through the real `datasets` library, Hub off) --------------------------------


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network for `datasets`: the environment variables, and the flags they set at import time."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets.config
    import huggingface_hub.constants

    # both modules read the variables once, at import; an earlier import would otherwise stay online
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def jsonl_folder(tmp_path) -> Path:
    """Three JSONL files, 30 documents `doc-00`..`doc-29` of 10 bytes of text each."""
    folder = tmp_path / "hf-data"
    folder.mkdir()
    for part in range(3):
        with open(folder / f"part-{part}.jsonl", "w") as f:
            for i in range(10):
                f.write(json.dumps({"text": f"doc-{part * 10 + i:02d}xxxx", "n": part * 10 + i}) + "\n")
    return folder


def parquet_rows(out: Path) -> list[dict]:
    return pq.read_table(out / "data.parquet").to_pylist()


def test_hf_json_builder_with_glob_is_capped_by_documents(offline, jsonl_folder, out):
    spec = {
        "kind": "hf",
        "path": "json",
        "data_files": str(jsonl_folder / "*.jsonl"),
        "split": "train",
        "streaming": True,
        "max_documents": 7,
    }
    manifest = get("hfdocs", spec, out)
    rows = parquet_rows(out)
    assert [r["text"] for r in rows] == [f"doc-{i:02d}xxxx" for i in range(7)]
    assert [r["n"] for r in rows] == list(range(7))
    assert manifest["origin"] == "hf:json/train"
    assert manifest["documents"] == 7
    assert [f["path"] for f in manifest["files"]] == ["data.parquet"]
    assert_files_match_manifest(out, manifest)


def test_hf_local_folder_as_path(offline, jsonl_folder, out):
    spec = {"kind": "hf", "path": str(jsonl_folder), "split": "train", "max_documents": 25}
    manifest = get("hffolder", spec, out)
    texts = [r["text"] for r in parquet_rows(out)]
    assert len(texts) == 25
    assert set(texts) <= {f"doc-{i:02d}xxxx" for i in range(30)}
    assert len(set(texts)) == 25
    assert manifest["documents"] == 25
    assert manifest["origin"] == f"hf:{jsonl_folder}/train"


def test_hf_single_file_without_cap_keeps_everything(offline, jsonl_folder, out):
    spec = {"kind": "hf", "path": "json", "data_files": str(jsonl_folder / "part-1.jsonl"), "split": "train"}
    manifest = get("hfone", spec, out)
    assert [r["n"] for r in parquet_rows(out)] == list(range(10, 20))
    assert manifest["documents"] == 10


def test_hf_max_bytes_caps_too(offline, jsonl_folder, out):
    # each record carries 10 bytes of text; the record that reaches the cap is the last one kept
    spec = {"kind": "hf", "path": "json", "data_files": str(jsonl_folder / "part-0.jsonl"), "split": "train"}
    manifest = get("hfbytes", {**spec, "max_bytes": 35}, out)
    assert [r["text"] for r in parquet_rows(out)] == [f"doc-{i:02d}xxxx" for i in range(4)]
    assert manifest["documents"] == 4
    # whichever cap comes first wins
    get("hfbytes", {**spec, "max_bytes": 35, "max_documents": 2}, out)
    assert len(parquet_rows(out)) == 2
    get("hfbytes", {**spec, "max_bytes": 30}, out)
    assert len(parquet_rows(out)) == 3


def test_hf_nonexistent_path_is_an_input_error(offline, tmp_path, out):
    missing = tmp_path / "no-such-dataset"
    with pytest.raises(InputError, match="source 'hfmissing': cannot load HF dataset") as err:
        get("hfmissing", {"kind": "hf", "path": str(missing), "split": "train"}, out)
    assert str(missing) in str(err.value)
    assert_nothing_left(out)


def test_hf_missing_data_file_is_an_input_error(offline, tmp_path, out):
    spec = {"kind": "hf", "path": "json", "data_files": str(tmp_path / "absent.jsonl"), "split": "train"}
    with pytest.raises(InputError, match="source 'hfabsent': "):
        get("hfabsent", spec, out)
    assert_nothing_left(out)


def test_hf_empty_dataset_is_an_input_error(offline, tmp_path, out):
    (tmp_path / "empty.jsonl").write_text("")
    spec = {"kind": "hf", "path": "json", "data_files": str(tmp_path / "empty.jsonl"), "split": "train"}
    with pytest.raises(InputError, match="source 'hfempty': HF dataset 'json' has no records"):
        get("hfempty", spec, out)
    assert_nothing_left(out)


def test_hf_zero_records_after_cap_is_an_input_error(offline, jsonl_folder, out):
    spec = {"kind": "hf", "path": str(jsonl_folder), "split": "train", "max_documents": 0}
    with pytest.raises(InputError, match="yielded no records"):
        get("hfzero", spec, out)
    assert_nothing_left(out)


def test_hf_error_while_streaming_is_an_input_error(offline, jsonl_folder, out):
    # load_dataset only reads the first file to infer features; the bad line is met while iterating
    (jsonl_folder / "part-9.jsonl").write_text('{"text": "fine", "n": 99}\nthis is not json\n')
    spec = {"kind": "hf", "path": "json", "data_files": str(jsonl_folder / "*.jsonl"), "split": "train"}
    with pytest.raises(InputError, match="source 'hfbad': HF dataset 'json': reading failed"):
        get("hfbad", spec, out)
    assert_nothing_left(out)


def test_hf_column_changing_type_after_first_batch_is_an_input_error(offline, tmp_path, out):
    # the parquet schema comes from the first 2048 records; a later record with text where numbers were
    # used to escape as a bare pyarrow ArrowInvalid
    with open(tmp_path / "mixed.jsonl", "w") as f:
        for i in range(2100):
            f.write(json.dumps({"text": f"doc {i}", "n": i if i < 2050 else "not a number"}) + "\n")
    spec = {"kind": "hf", "path": "json", "data_files": str(tmp_path / "mixed.jsonl"), "split": "train"}
    with pytest.raises(InputError, match="source 'hfmixed': records do not fit one set of column types fixed by"):
        get("hfmixed", spec, out)
    assert_nothing_left(out)


def test_hf_without_split_is_an_input_error(offline, jsonl_folder, out):
    spec = {"kind": "hf", "path": str(jsonl_folder)}
    with pytest.raises(InputError, match="has splits train; set `split`"):
        get("hfnosplit", spec, out)
    assert_nothing_left(out)


def test_hf_unknown_split_is_an_input_error(offline, jsonl_folder, out):
    with pytest.raises(InputError, match="validation"):
        get("hfsplit", {"kind": "hf", "path": str(jsonl_folder), "split": "validation"}, out)
    assert_nothing_left(out)


# --- builtin -------------------------------------------------------------------------------------


def test_builtin_guppy_manifest(out):
    manifest = get("guppy", {"kind": "builtin", "generator": "guppy", "count": 50, "seed": 3}, out)
    assert manifest["documents"] == 50
    assert [f["path"] for f in manifest["files"]] == ["guppy.jsonl"]
    assert manifest["files"][0]["documents"] == 50
    assert manifest["origin"] == "builtin:guppy?count=50&seed=3"
    lines = (out / "guppy.jsonl").read_text().splitlines()
    assert len(lines) == 50
    assert all({"input", "output", "category"} <= json.loads(line).keys() for line in lines)
    assert_files_match_manifest(out, manifest)
