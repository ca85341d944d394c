"""HTTP downloads and archive unpacking for `url` sources.

A download streams to `<name>.part`, is checked against its sha256 when the
config gives one, and only then takes its real name. Archives are unpacked after
every entry's path has been checked: an entry such as `../../etc/passwd`, an
absolute path, a link leading out of the folder or a device file is refused, so
a hostile tarball cannot write outside the source's folder.
"""

import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import zstandard

from minnow.errors import InputError

# What a corrupt or cut-off compressed file raises: gzip's BadGzipFile is an
# OSError and a truncated stream an EOFError, but a damaged deflate block is a
# zlib.error and bad zstd data a ZstdError, neither of which is an OSError.
CORRUPT = (OSError, EOFError, zlib.error, zstandard.ZstdError)

CHUNK = 1 << 20


def http_download(url: str, folder: Path, sha256: str | None = None, timeout: float = 60) -> Path:
    """Fetch `url` into `folder`, verifying `sha256` before the file gets its name."""
    name = PurePosixPath(urlparse(url).path).name or "download"
    final, part = folder / name, folder / f"{name}.part"
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            while chunk := response.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:  # IncompleteRead is neither
        part.unlink(missing_ok=True)
        # an HTTPError's reason is whatever text the server sent; the status code is what users look up
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise InputError(f"{url}: download failed: {reason}") from None
    if sha256 and h.hexdigest() != sha256.lower():
        part.unlink()
        raise InputError(f"{url}: sha256 mismatch: config says {sha256}, downloaded file has {h.hexdigest()}")
    os.replace(part, final)
    return final


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    escapes = path.is_absolute() or ".." in path.parts
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        link_base = path.parent if member.issym() else PurePosixPath()
        escapes = escapes or target.is_absolute() or ".." in (link_base / target).parts
    if escapes:
        raise InputError(f"{archive}: entry '{member.name}' points outside the download folder; refusing to unpack")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise InputError(f"{archive}: entry '{member.name}' is a device or special file; refusing to unpack")


def _untar(archive: Path, folder: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(archive, member)
            tar.extractall(folder, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as e:  # a cut-off .tar.gz raises EOFError
        raise InputError(f"{archive}: not a readable tar archive ({e})") from None


def _decompress(archive: Path, copy) -> Path:
    target = archive.with_suffix("")
    try:
        with open(target, "wb") as dst:
            copy(archive, dst)
    except CORRUPT as e:
        target.unlink(missing_ok=True)
        raise InputError(f"{archive}: cannot decompress ({e})") from None
    return target


def _gunzip(archive: Path, dst) -> None:
    with gzip.open(archive) as src:
        shutil.copyfileobj(src, dst, CHUNK)


def _unzstd(archive: Path, dst) -> None:
    """Decompress every zstd frame of `archive`, failing on a cut-off last frame.

    zstandard's stream reader stops quietly where a truncated file stops, so a
    download cut short would pass as a smaller corpus; one decompressobj per
    frame says, through `eof`, whether the last frame was complete.
    """
    dctx = zstandard.ZstdDecompressor()
    dobj, in_frame = dctx.decompressobj(), False
    with open(archive, "rb") as src:
        while chunk := src.read(CHUNK):
            while chunk:
                dst.write(dobj.decompress(chunk))
                in_frame = not dobj.eof
                if in_frame:
                    break
                chunk, dobj = dobj.unused_data, dctx.decompressobj()
    if in_frame:
        raise EOFError("zstd data ends in the middle of a frame (truncated file?)")


def unpack(archive: Path) -> None:
    """Unpack `.tar`, `.tar.gz`/`.tgz`, `.gz` or `.zst` in place; other files stay as they are."""
    name = archive.name
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.zst")):
        if name.endswith(".tar.zst"):
            archive_tar = _decompress(archive, _unzstd)
            archive.unlink()
            archive = archive_tar
        _untar(archive, archive.parent)
    elif name.endswith(".gz"):
        _decompress(archive, _gunzip)
    elif name.endswith(".zst"):
        _decompress(archive, _unzstd)
    else:
        return
    archive.unlink()
