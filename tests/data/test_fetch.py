"""HTTP downloads and archive unpacking (`minnow.data.fetch`) against a real loopback server.

Nothing is mocked: a `ThreadingHTTPServer` serves a temporary folder on
127.0.0.1, so the tests exercise urllib, the `.part` file, the checksum, the
decompressors and the tar entry checks exactly as a real `url` source would.
"""

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from minnow.data.fetch import http_download, unpack
from minnow.digests import sha256_file
from minnow.errors import InputError

from loopback import serve_folder

JSONL = b'{"text": "first document"}\n{"text": "second document"}\n{"text": "third"}\n'
TEXT = "Ein Absatz mit Umlauten: \u00e4\u00f6\u00fc.\n\nA second paragraph.\n"
ZST_TEXT = "zstd-compressed line one\nline two\n" * 100
TREE = {"corpus/a.txt": "alpha text\n", "corpus/b.txt": "beta text\n", "corpus/nested/c.txt": "gamma text\n"}


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> bytes:
    """A tar archive built entry by entry, so hostile names and links can be written verbatim."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def file_entry(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def link_entry(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def special_entry(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def hostile_tars(outside: Path) -> dict[str, tuple[bytes, str]]:
    """Archive name -> (bytes, the offending entry's name); `outside` is where an absolute entry would land."""
    ok = file_entry("fine.txt", b"harmless\n")
    absolute = str(outside / "absolute-evil.txt")
    return {
        "dotdot.tar.gz": (tar_bytes([ok, file_entry("../evil.txt", b"escaped\n")]), "../evil.txt"),
        "nested-dotdot.tar.gz": (tar_bytes([ok, file_entry("sub/../../evil.txt", b"escaped\n")]), "sub/../../evil.txt"),
        "absolute.tar.gz": (tar_bytes([ok, file_entry(absolute, b"escaped\n")]), absolute),
        "symlink.tar.gz": (tar_bytes([ok, link_entry("passwd", "../../etc/passwd")]), "passwd"),
        "abs-symlink.tar": (tar_bytes([ok, link_entry("passwd", "/etc/passwd")], mode="w"), "passwd"),
        "hardlink.tar.gz": (tar_bytes([ok, link_entry("hl", "../evil.txt", tarfile.LNKTYPE)]), "hl"),
        "fifo.tar.gz": (tar_bytes([ok, special_entry("pipe", tarfile.FIFOTYPE)]), "pipe"),
        "device.tar.gz": (tar_bytes([ok, special_entry("dev", tarfile.CHRTYPE)]), "dev"),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A loopback HTTP server over a folder holding every fixture file; shut down after the module."""
    root = tmp_path_factory.mktemp("www")
    (root / "docs.jsonl").write_bytes(JSONL)
    (root / "notes.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    (root / "lines.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(ZST_TEXT.encode()))
    tree = [file_entry(name, text.encode()) for name, text in TREE.items()]
    (root / "tree.tar.gz").write_bytes(tar_bytes(tree))
    (root / "tree.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(tar_bytes(tree, mode="w")))
    for name, (data, _) in hostile_tars(tmp_path_factory.getbasetemp() / "absolute-target").items():
        (root / name).write_bytes(data)

    with serve_folder(root) as base:
        yield ServerInfo(root, base)


class ServerInfo:
    def __init__(self, root: Path, base: str):
        self.root, self.base = root, base

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def sha(self, name: str) -> str:
        return sha256_file(self.root / name)


@pytest.fixture
def target(tmp_path) -> Path:
    """The folder a source downloads into, inside a parent the tests watch for stray files."""
    folder = tmp_path / "parent" / "target"
    folder.mkdir(parents=True)
    return folder


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --- downloads -----------------------------------------------------------------------------------


def test_plain_file_downloads_with_its_bytes_and_no_part_file(server, target):
    path = http_download(server.url("docs.jsonl"), target)
    assert path == target / "docs.jsonl"
    assert path.read_bytes() == JSONL
    unpack(path)  # not an archive: left exactly as it is
    assert listing(target) == {"docs.jsonl"}
    assert path.read_bytes() == JSONL


def test_matching_sha256_is_accepted_in_either_case(server, target):
    digest = hashlib.sha256(JSONL).hexdigest()
    assert http_download(server.url("docs.jsonl"), target, digest).read_bytes() == JSONL
    again = target / "again"
    again.mkdir()
    assert http_download(server.url("docs.jsonl"), again, digest.upper()).read_bytes() == JSONL


def test_sha256_mismatch_names_url_and_both_digests_and_leaves_nothing(server, target):
    url, wrong = server.url("docs.jsonl"), "0" * 64
    with pytest.raises(InputError) as err:
        http_download(url, target, wrong)
    message = str(err.value)
    assert url in message
    assert wrong in message
    assert hashlib.sha256(JSONL).hexdigest() in message
    assert listing(target) == set()  # neither docs.jsonl nor docs.jsonl.part


def test_missing_url_raises_input_error_naming_it(server, target):
    url = server.url("no-such-file.jsonl")
    with pytest.raises(InputError, match="no-such-file.jsonl") as err:
        http_download(url, target)
    assert url in str(err.value)
    assert "HTTP 404" in str(err.value)
    assert listing(target) == set()


def test_unreachable_host_raises_input_error(target):
    # port 9 on loopback: nothing listens there, so the connection is refused at once
    with pytest.raises(InputError, match=r"http://127\.0\.0\.1:9/x\.jsonl: download failed"):
        http_download("http://127.0.0.1:9/x.jsonl", target, timeout=5)
    assert listing(target) == set()


def test_url_without_file_name_saves_as_download(server, target):
    # the root URL returns the server's directory listing; the name falls back to `download`
    path = http_download(server.base + "/", target)
    assert path.name == "download"
    assert b"docs.jsonl" in path.read_bytes()


# --- unpacking -----------------------------------------------------------------------------------


def test_gzip_text_is_decompressed_in_place(server, target):
    unpack(http_download(server.url("notes.txt.gz"), target))
    assert listing(target) == {"notes.txt"}
    assert (target / "notes.txt").read_text(encoding="utf-8") == TEXT


def test_zstd_file_is_decompressed_in_place(server, target):
    unpack(http_download(server.url("lines.txt.zst"), target, server.sha("lines.txt.zst")))
    assert listing(target) == {"lines.txt"}
    assert (target / "lines.txt").read_text() == ZST_TEXT


@pytest.mark.parametrize("archive", ["tree.tar.gz", "tree.tar.zst"])
def test_tar_of_a_folder_unpacks_every_file(server, target, archive):
    unpack(http_download(server.url(archive), target))
    files = {p for p in listing(target) if (target / p).is_file()}
    assert files == set(TREE)  # the archive itself (and any .tar step) is gone
    for name, text in TREE.items():
        assert (target / name).read_text() == text


def test_multi_frame_zstd_is_read_to_the_end(tmp_path):
    cctx = zstandard.ZstdCompressor()
    (tmp_path / "frames.txt.zst").write_bytes(cctx.compress(b"one\n") + cctx.compress(b"two\n" * 1000))
    unpack(tmp_path / "frames.txt.zst")
    assert (tmp_path / "frames.txt").read_bytes() == b"one\n" + b"two\n" * 1000


DAMAGED = {
    "cut.txt.zst": zstandard.ZstdCompressor().compress(b"a line of text\n" * 5000)[:-7],
    "junk.txt.zst": b"this is not zstd data" * 4,
    "cut.txt.gz": gzip.compress(b"a line of text\n" * 5000)[:-12],
    "junk.txt.gz": b"this is not gzip data" * 4,
    "cut.tar.gz": tar_bytes([file_entry("a.txt", bytes(range(256)) * 400)])[:-300],
    "junk.tar": b"this is not a tar archive" * 40,
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_compressed_file_raises_input_error_and_keeps_no_output(tmp_path, name):
    # a cut-off .zst used to decompress "successfully" to a shorter file; junk zstd leaked ZstdError
    archive = tmp_path / name
    archive.write_bytes(DAMAGED[name])
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        unpack(archive)
    assert listing(tmp_path) <= {name}  # no half-decompressed file beside it


def test_corrupt_deflate_block_raises_input_error(tmp_path):
    # a valid gzip header followed by damaged deflate data raises zlib.error, not OSError
    data = bytearray(gzip.compress(b"compressible text " * 5000))
    for i in range(30, 60):
        data[i] ^= 0xFF
    archive = tmp_path / "bad.txt.gz"
    archive.write_bytes(bytes(data))
    with pytest.raises(InputError, match="bad.txt.gz: cannot decompress"):
        unpack(archive)
    assert listing(tmp_path) == {"bad.txt.gz"}


# --- hostile archives ----------------------------------------------------------------------------


@pytest.mark.parametrize("archive", sorted(hostile_tars(Path("/unused"))))
def test_hostile_tar_is_refused_before_anything_is_written(server, target, tmp_path_factory, archive):
    entry = hostile_tars(tmp_path_factory.getbasetemp() / "absolute-target")[archive][1]
    path = http_download(server.url(archive), target)
    with pytest.raises(InputError) as err:
        unpack(path)
    message = str(err.value)
    assert str(path) in message
    assert f"'{entry}'" in message
    # nothing was extracted, not even the harmless entry, and nothing escaped the folder
    assert listing(target) == {archive}
    assert listing(target.parent) == {"target", f"target/{archive}"}
    assert not (tmp_path_factory.getbasetemp() / "absolute-target").exists()
    assert not (target.parent.parent / "evil.txt").exists()
