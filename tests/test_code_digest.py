from pathlib import Path

import pytest

from minnow import code_digest

REPO = Path(__file__).resolve().parents[1]


def test_digest_follows_imports_transitively_but_not_tracking():
    files = {
        str(p.relative_to(code_digest.PACKAGE_ROOT))
        for p in code_digest.module_files(REPO / "workflow_scripts/prepare_part.py")
    }
    assert {
        "data/prepare.py",
        "data/filters.py",
        "data/minhash.py",
        "data/readers.py",
        "atomic.py",
        "errors.py",
    } <= files
    assert not files & {"workflow/tracking.py", "workflow/steplog.py", "tokens/tokenizer.py", "data/dedup.py"}


def test_digest_changes_with_an_indirectly_imported_module(tmp_path, monkeypatch):
    pkg = tmp_path / "minnow"
    (pkg / "data").mkdir(parents=True)
    (pkg / "workflow").mkdir()
    for init in ("__init__.py", "data/__init__.py", "workflow/__init__.py"):
        (pkg / init).write_text("")
    (pkg / "data" / "a.py").write_text("from .b import f\n")
    (pkg / "data" / "b.py").write_text("def f(): return 1\n")
    (pkg / "workflow" / "tracking.py").write_text("x = 1\n")
    script = tmp_path / "step.py"
    script.write_text("from minnow.workflow import tracking\nfrom minnow.data.a import f\n")
    monkeypatch.setattr(code_digest, "PACKAGE_ROOT", pkg)
    before = code_digest.digest(script)
    (pkg / "workflow" / "tracking.py").write_text("x = 2\n")
    assert code_digest.digest(script) == before
    (pkg / "data" / "b.py").write_text("def f(): return 2\n")
    assert code_digest.digest(script) != before


BEFORE = '''"""A module."""
import logging

log = logging.getLogger(__name__)


def scale(x, by=2):
    """Multiply."""
    if x is None:
        raise ValueError(f"no value to scale by {by}")
    log.info("scaling %s", x)
    return x * by
'''


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.replace('"""Multiply."""', '"""Multiply x by a factor, for the example."""'),
        lambda s: s.replace("    return x * by", "    # the product\n    return x   *   by  # done"),
        lambda s: s.replace("no value to scale by", "cannot scale nothing by"),
        lambda s: s.replace('    log.info("scaling %s", x)\n', '    log.debug("now scaling %s by %s", x, by)\n'),
        lambda s: s.replace('"""A module."""', '"""A module, reworded."""'),
    ],
    ids=["docstring", "comment-and-format", "error-text", "logging", "module-docstring"],
)
def test_normal_form_ignores_what_cannot_change_an_output(edit):
    assert code_digest.normal_form(edit(BEFORE)) == code_digest.normal_form(BEFORE)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.replace("x * by", "x + by"),
        lambda s: s.replace("by=2", "by=3"),
        lambda s: s.replace("raise ValueError", "raise TypeError"),
        lambda s: s.replace("if x is None:", "if not x:"),
    ],
    ids=["operator", "default", "exception-type", "condition"],
)
def test_normal_form_sees_every_change_of_behaviour(edit):
    assert code_digest.normal_form(edit(BEFORE)) != code_digest.normal_form(BEFORE)
