"""The one exception type a user should ever see from a stage.

Bad input (a malformed line, a wrong key, a truncated file) raises `InputError`
with a message naming the file and line or the config key. The step wrapper in
`tracking` prints that message alone and exits non-zero, so users get a sentence
they can act on instead of a traceback.
"""

import json
from pathlib import Path


class InputError(Exception):
    """Input that minnow refuses: the message says where it is and what is wrong."""


def at(path, line: int | None = None) -> str:
    """Format a location as `path:line` (or just `path`) for error messages."""
    return f"{path}:{line}" if line is not None else str(path)


def read_json(path, what: str):
    """A JSON file's value, or an InputError naming the file as a `what` that cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable {what} ({e})") from None
