"""Digest of the library code a step script runs, for Snakemake's params trigger.

Snakemake reruns a job when its `script:` file changes, but it cannot see the
`minnow` modules that script imports. Each rule therefore passes
`code=code_digest.digest(script)` in its params: a hash of the script's minnow
imports, followed transitively, so editing a lib module reruns exactly the stages
whose code path includes it. `minnow.tracking` is left out on purpose: it only
logs, and changing how runs are logged must not retrain models.
"""

import ast
import hashlib
from pathlib import Path

import minnow

PACKAGE_ROOT = Path(minnow.__file__).parent
NOT_OUTPUT_AFFECTING = {"minnow.tracking"}


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
    found = set()
    package = this_module if path.name == "__init__.py" else (this_module or "").rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
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
    return {m for m in found if m == "minnow" or m.startswith("minnow.")}


def module_files(script: str | Path) -> list[Path]:
    """Every minnow source file the script depends on, transitively, sorted."""
    seen: dict[str, Path] = {}
    todo = [(Path(script), None)]
    while todo:
        path, name = todo.pop()
        for module in _imported_modules(path, name):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                parent = ".".join(parts[:i])
                file = _module_file(parent)
                if file is None or parent in seen or parent in NOT_OUTPUT_AFFECTING:
                    continue
                seen[parent] = file
                todo.append((file, _module_name(file)))
    return sorted(set(seen.values()))


def digest(script: str | Path) -> str:
    """Short sha256 over the contents of every minnow module the script uses."""
    h = hashlib.sha256()
    for file in module_files(script):
        h.update(str(file.relative_to(PACKAGE_ROOT)).encode() + b"\0" + file.read_bytes())
    return h.hexdigest()[:16]
