"""Real English prose and real code that every Python install already carries.

The guppy corpus is synthetic; this one is human-written and needs no network
either: the pydoc help topics (the language reference), the docstrings of the
standard library, and the standard library's source. Modules are parsed with
`ast`, never imported, so reading them has no side effects. Content depends only
on the interpreter, which `revision()` names so a manifest can record it.
"""

import ast
import os
import platform
import sys
import sysconfig
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path
from pydoc_data.topics import topics as _TOPICS

_SKIPPED_DIRS = frozenset({"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__"})
_DOCUMENTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def revision() -> str:
    """The interpreter that shipped this content, e.g. 'cpython-3.11.7'."""
    version = ".".join(str(part) for part in sys.version_info[:3])
    return f"{platform.python_implementation().lower()}-{version}"


def _pydoc_topics() -> Iterator[dict]:
    for key in sorted(_TOPICS):
        yield {"text": _TOPICS[key], "origin": f"pydoc-topic:{key}"}


def _stdlib_sources(root: Path) -> list[Path]:
    """Every .py file under the stdlib, minus tests, demos and installed packages, sorted for a stable order."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [name for name in subdirs if name not in _SKIPPED_DIRS]
        found.extend(Path(directory, name) for name in files if name.endswith(".py"))
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def _parse(path: Path) -> tuple[str, ast.Module] | None:
    """Source and tree, or None when a file is not valid UTF-8 Python: one odd file should not sink the corpus."""
    try:
        source = path.read_bytes().decode("utf-8")
        return source, ast.parse(source, filename=str(path))
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return None


def _docstrings(tree: ast.Module) -> str:
    """The module docstring, then every function and class docstring in source order."""
    nodes = [node for node in ast.walk(tree) if isinstance(node, _DOCUMENTED)]
    nodes.sort(key=lambda node: (node.lineno, node.col_offset))
    docs = [ast.get_docstring(node) for node in (tree, *nodes)]
    return "\n\n".join(doc for doc in docs if doc)


def _module_documents(root: Path) -> Iterator[dict]:
    for path in _stdlib_sources(root):
        parsed = _parse(path)
        if parsed is None:
            continue
        source, tree = parsed
        relative = path.relative_to(root).as_posix()
        prose = _docstrings(tree)
        if prose:
            yield {"text": prose, "origin": f"docstrings:{relative}"}
        if source.strip():
            yield {"text": source, "origin": f"source:{relative}"}


def generate(max_documents: int | None = None, part: int = 0, parts: int = 1) -> Iterator[dict]:
    """Yield `{text, origin}` records: pydoc topics, then per stdlib module its docstrings and its
    source; of those, part `part` of `parts` takes every parts-th document (the whole corpus is
    ~13 MB, so each part reading all of it costs seconds and keeps the parts exact)."""
    documents = chain(_pydoc_topics(), _module_documents(Path(sysconfig.get_paths()["stdlib"])))
    capped = documents if max_documents is None else islice(documents, max_documents)
    yield from islice(capped, part, None, parts)
