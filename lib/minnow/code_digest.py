"""Digests of library code that change only when the code's behaviour does.

Snakemake reruns a job when its `script:` file changes, but it cannot see the
`minnow` modules that script imports. Each rule therefore passes
`code=code_digest.digest(script)` in its params: a hash of the script's minnow
imports, followed transitively, so editing a lib module reruns exactly the stages
whose code path includes it. The training run's fingerprint uses the same
machinery on the modules that shape the weights (`module_digest`).

A module is hashed in a normal form, its syntax tree with what cannot change an
output removed: comments and formatting (not in the tree), docstrings, logging
calls, and the text of the messages exceptions are raised with. Rewording an
error or a docstring reruns nothing; changing what the code computes reruns it.
`minnow.workflow.tracking` is left out entirely: it only logs to MLflow.
"""

import ast
import functools
import hashlib
from pathlib import Path

import minnow

PACKAGE_ROOT = Path(minnow.__file__).parent
NOT_OUTPUT_AFFECTING = frozenset({"minnow.workflow.tracking"})
LOGGER_NAMES = frozenset({"log", "logger", "logging"})
LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})


def _module_file(module: str) -> Path | None:
    parts = module.split(".")[1:]
    base = PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["minnow", *parts])


def _imported_modules(path: Path, this_module: str | None) -> set[str]:
    """Names of minnow modules a file imports, resolving relative imports."""
    package = this_module if path.name == "__init__.py" else (this_module or "").rpartition(".")[0]
    return _imports_in(path.read_text(), str(path), package)


@functools.lru_cache(maxsize=1024)
def _imports_in(source: str, filename: str, package: str) -> frozenset[str]:
    """The minnow modules `source` imports; cached by content, since every rule's digest
    walks the same modules again on each Snakemake call."""
    found = set()
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(m for m in found if m == "minnow" or m.startswith("minnow."))


def _closure(start: list[tuple[Path, str | None]], exclude: frozenset[str]) -> list[Path]:
    """Every minnow source file reachable by imports from `start`, skipping `exclude`."""
    seen: dict[str, Path] = {}
    todo = list(start)
    while todo:
        path, name = todo.pop()
        for module in _imported_modules(path, name):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                parent = ".".join(parts[:i])
                file = _module_file(parent)
                if file is None or parent in seen or parent in exclude:
                    continue
                seen[parent] = file
                todo.append((file, _module_name(file)))
    return sorted(set(seen.values()))


def module_files(script: str | Path, exclude: frozenset[str] = frozenset()) -> list[Path]:
    """Every minnow source file the script depends on, transitively, sorted, leaving out
    the modules in `exclude` (and what only they import)."""
    return _closure([(Path(script), None)], NOT_OUTPUT_AFFECTING | exclude)


def _is_log_call(node: ast.AST) -> bool:
    """`log.info(...)`, `logger.warning(...)`, `logging.error(...)` as a statement."""
    call = node.value if isinstance(node, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in LOG_METHODS
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in LOGGER_NAMES
    )


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


class _Normalise(ast.NodeTransformer):
    """Drops docstrings and logging statements; blanks the strings of raised messages."""

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if isinstance(statements, list) and statements and isinstance(statements[0], ast.stmt):
                kept = [
                    s
                    for i, s in enumerate(statements)
                    if not (i == 0 and field == "body" and _is_docstring(s)) and not _is_log_call(s)
                ]
                setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
        return node

    def visit_Raise(self, node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                sub.value = ""
        return node


@functools.lru_cache(maxsize=1024)
def normal_form(source: str, filename: str = "<code>") -> str:
    """The source's syntax tree without docstrings, logging calls or raised message text."""
    return ast.dump(_Normalise().visit(ast.parse(source, filename=filename)))


def _hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for file in files:
        h.update(str(file.relative_to(PACKAGE_ROOT)).encode() + b"\0")
        h.update(normal_form(file.read_text(), str(file)).encode() + b"\0")
    return h.hexdigest()[:16]


def digest(script: str | Path, exclude: frozenset[str] = frozenset()) -> str:
    """Short sha256 over the normal form of every minnow module the script uses (but
    `exclude`: modules a branch of the script that this job does not take imports)."""
    return _hash(module_files(script, exclude))


def module_closure(module: str, exclude: frozenset[str] = frozenset()) -> list[Path]:
    """The files of `module` and every minnow module it imports, transitively, leaving
    out the modules in `exclude` (and what only they import)."""
    file = _module_file(module)
    if file is None:
        raise ValueError(f"no minnow module {module}")
    return sorted({file, *_closure([(file, module)], NOT_OUTPUT_AFFECTING | exclude)})


def module_digest(module: str, exclude: frozenset[str] = frozenset()) -> str:
    """Short sha256 over the normal form of `module_closure(module, exclude)`."""
    return _hash(module_closure(module, exclude))
