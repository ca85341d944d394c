"""What a rule's params hold of things outside the config, so that a change to them reruns it.

A local file's sha256 (cached while its size and mtime are unchanged: touching a
file reruns nothing, editing one does), and the version of the package shipping
a GGUF checkpoint. A hub model has neither: its `revision` in the config pins it.
"""

from pathlib import Path

from minnow import digests, packages
from minnow.workflow.config import local_files


def local_digests(spec: dict, cache: Path | str) -> dict[str, str]:
    """sha256 of each local file a config entry reads: editing, adding or removing one reruns the rule."""
    return digests.file_digests(local_files(spec), cache)


def package_version(spec: dict) -> str | None:
    """The installed version of the package shipping an entry's GGUF (`gguf_package`), if it names one."""
    package = spec.get("gguf_package")
    return packages.version(package) if package else None


def checkpoint_identity(spec: dict | None, cache: Path | str) -> dict | None:
    """What tells one copy of a checkpoint from another (None for no checkpoint): digests of
    its local files, the version of the package shipping it."""
    if not spec:
        return None
    return {"files": local_digests(spec, cache), "version": package_version(spec)}
