"""The shape of lib/minnow: a short top level and no import circles.

A circle (a imports b, b imports a, at module level or inside a function) means
two modules are one concern split in two, or one fact kept in the wrong place;
each package says what it holds only while the top level stays short.
"""

import subprocess
import sys
from pathlib import Path

from minnow import code_digest

LIB = code_digest.PACKAGE_ROOT
REPO = Path(__file__).resolve().parents[1]
# what every package uses, and the command's entry point
TOP_LEVEL = {"atomic", "cli", "code_digest", "devices", "digests", "errors", "packages"}


def import_graph() -> dict[str, set[str]]:
    """Each minnow module's name to the minnow modules it imports anywhere in its file."""
    graph = {}
    for file in sorted(LIB.rglob("*.py")):
        name = code_digest._module_name(file)
        imported = code_digest._imported_modules(file, name)
        graph[name] = {m for m in imported if code_digest._module_file(m) is not None and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import paths that come back to where they started (one per circle found)."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                found.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return found


def test_the_top_level_holds_only_what_every_package_uses():
    modules = {p.stem for p in LIB.glob("*.py")} - {"__init__"}
    assert modules == TOP_LEVEL
    assert len(modules) <= 8


def test_no_module_imports_itself_through_others():
    assert circles(import_graph()) == []


def test_the_circle_check_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_every_package_says_what_it_holds():
    for init in LIB.rglob("__init__.py"):
        assert init.read_text().startswith('"""'), f"{init.relative_to(LIB)} has no docstring"


def test_what_snakemake_imports_while_it_plans_does_not_import_torch():
    """Every `snakemake` call imports rules/common.smk's modules: torch would add seconds."""
    imports = [
        line for line in (REPO / "rules" / "common.smk").read_text().splitlines() if line.startswith("from minnow")
    ]
    code = "\n".join([*imports, "import sys", "print('torch' in sys.modules)"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert len(imports) >= 3 and out.strip() == "False"
