"""Installed packages' versions, for the steps whose output depends on one.

A rule puts a version in its params (lm-eval for the downstream stage, llama.cpp's
binding for the export's scores, the wheel shipping a reference's GGUF), so that
installing another version reruns what it would change.
"""

import importlib.metadata


def version(package: str) -> str | None:
    """The installed version of `package` (its distribution name), or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
