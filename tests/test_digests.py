"""File digests: for manifests, fingerprints and the data params of rules."""

import os

from minnow.digests import MISSING, file_digests, sha256_file


def test_file_digests_follow_content_not_mtime_and_cache_by_size_and_mtime(tmp_path):
    cache, data = tmp_path / "cache.json", tmp_path / "book.txt"
    data.write_text("once upon a time")
    first = file_digests([str(data), str(tmp_path / "gone.txt")], cache)
    assert first == {str(data): sha256_file(data), str(tmp_path / "gone.txt"): MISSING}
    os.utime(data)
    assert file_digests([str(data)], cache)[str(data)] == first[str(data)]
    stat = data.stat()
    data.write_text("once upon a tide")  # same size: the new mtime still marks the cache entry stale
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert file_digests([str(data)], cache)[str(data)] == sha256_file(data) != first[str(data)]


def test_file_digests_reuse_the_cached_digest_while_size_and_mtime_are_unchanged(tmp_path):
    cache, data = tmp_path / "cache.json", tmp_path / "book.txt"
    data.write_text("once upon a time")
    first = file_digests([str(data)], cache)[str(data)]
    stat = data.stat()
    data.write_text("once upon a tide")  # same size; the mtime is set back below
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_size == stat.st_size and data.stat().st_mtime_ns == stat.st_mtime_ns
    assert file_digests([str(data)], cache)[str(data)] == first != sha256_file(data)  # stale: only stat()ed
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert file_digests([str(data)], cache)[str(data)] == sha256_file(data) != first
