from pathlib import Path

from minnow import code_digest

REPO = Path(__file__).resolve().parents[1]


def test_digest_follows_imports_transitively_but_not_tracking():
    files = {str(p.relative_to(code_digest.PACKAGE_ROOT)) for p in code_digest.module_files(REPO / "workflow_scripts/prepare_corpus.py")}
    assert {"data/prepare.py", "data/filters.py", "data/dedup.py", "data/mix.py", "atomic.py", "errors.py"} <= files
    assert "tracking.py" not in files and "tokenizer.py" not in files


def test_digest_changes_with_an_indirectly_imported_module(tmp_path, monkeypatch):
    pkg = tmp_path / "minnow"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "__init__.py").write_text("")
    (pkg / "data" / "a.py").write_text("from .b import f\n")
    (pkg / "data" / "b.py").write_text("def f(): return 1\n")
    (pkg / "tracking.py").write_text("x = 1\n")
    script = tmp_path / "step.py"
    script.write_text("from minnow import tracking\nfrom minnow.data.a import f\n")
    monkeypatch.setattr(code_digest, "PACKAGE_ROOT", pkg)
    before = code_digest.digest(script)
    (pkg / "tracking.py").write_text("x = 2\n")
    assert code_digest.digest(script) == before
    (pkg / "data" / "b.py").write_text("def f(): return 2\n")
    assert code_digest.digest(script) != before


def test_reference_scores_do_not_depend_on_minnow_model_code():
    files = {p.name for p in code_digest.module_files(REPO / "workflow_scripts/reference_perplexity.py")}
    assert "references.py" in files and "perplexity.py" in files
    assert not files & {"model.py", "checkpoint.py", "tokenizer.py", "training.py"}
