"""The built-in offline corpora: the guppy generator and the Python-docs corpus."""

import json
import os
import platform
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from pydoc_data.topics import topics as pydoc_topics

import pytest

from minnow.data.builtin import guppy, python_docs

LIB = Path(__file__).resolve().parents[2] / "lib"


@pytest.fixture(scope="module")
def guppy_records() -> list[dict]:
    return list(guppy.generate(3000, 42))


@pytest.fixture(scope="module")
def all_docs() -> list[dict]:
    return list(python_docs.generate())


@pytest.mark.parametrize("count", [0, 1, 7, 500])
def test_guppy_yields_exactly_count(count):
    assert len(list(guppy.generate(count, 0))) == count


def test_guppy_same_seed_same_records_different_seed_different():
    assert list(guppy.generate(500, 1)) == list(guppy.generate(500, 1))
    assert list(guppy.generate(500, 1)) != list(guppy.generate(500, 2))


def test_guppy_parts_cut_anywhere_concatenate_to_the_whole():
    whole = list(guppy.generate(3000, 9))
    cuts = [0, 5, guppy.BLOCK, 1500, 2 * guppy.BLOCK + 1, 3000]
    parts = [list(guppy.generate(stop, 9, start)) for start, stop in zip(cuts, cuts[1:], strict=False)]
    assert [r for part in parts for r in part] == whole


def test_guppy_larger_count_extends_smaller_one():
    assert list(guppy.generate(1000, 5))[:100] == list(guppy.generate(100, 5))


def test_guppy_leaves_global_random_alone():
    random.seed(0)
    state = random.getstate()
    list(guppy.generate(200, 3))
    assert random.getstate() == state


def test_guppy_records_are_filled_lowercase_strings(guppy_records):
    for record in guppy_records:
        assert set(record) == {"input", "output", "category"}
        for value in record.values():
            assert isinstance(value, str) and value.strip()
            assert value == value.lower()
            assert "{" not in value and "}" not in value


def test_guppy_covers_every_topic_evenly(guppy_records):
    assert len(guppy.TOPICS) >= 50
    assert len(set(guppy.TOPICS)) == len(guppy.TOPICS)
    counts = Counter(record["category"] for record in guppy_records)
    assert set(counts) == set(guppy.TOPICS)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_guppy_has_real_variety():
    records = list(guppy.generate(5000, 7))
    assert len({record["output"] for record in records}) >= 1500
    assert len({(record["input"], record["output"]) for record in records}) >= 2000


def test_pydoc_topics_come_first_in_key_order(all_docs):
    expected = [f"pydoc-topic:{key}" for key in sorted(pydoc_topics)]
    head = all_docs[: len(expected)]
    assert [doc["origin"] for doc in head] == expected
    assert all(doc["text"].strip() for doc in head)
    assert not all_docs[len(expected)]["origin"].startswith("pydoc-topic:")


def test_python_docs_has_prose_and_code_per_module_in_path_order(all_docs):
    module_docs = [doc for doc in all_docs if not doc["origin"].startswith("pydoc-topic:")]
    kinds = Counter(doc["origin"].split(":", 1)[0] for doc in module_docs)
    assert kinds["source"] > 300 and kinds["docstrings"] > 300
    assert set(kinds) == {"source", "docstrings"}
    paths = [doc["origin"].split(":", 1)[1] for doc in module_docs]
    assert paths == sorted(paths)
    assert "source:json/decoder.py" in {doc["origin"] for doc in module_docs}
    assert sum("def " in doc["text"] for doc in module_docs if doc["origin"].startswith("source:")) > 300
    assert all(doc["text"].strip() for doc in module_docs)


def test_python_docs_skips_tests_demos_and_installed_packages(all_docs):
    for doc in all_docs:
        parts = doc["origin"].split(":", 1)[1].split("/")
        assert not {"test", "tests", "idlelib", "lib2to3", "turtledemo", "site-packages", "__pycache__"} & set(parts)


def test_python_docs_respects_max_documents_and_is_deterministic(all_docs):
    assert list(python_docs.generate(0)) == []
    first = list(python_docs.generate(len(pydoc_topics) + 50))
    assert len(first) == len(pydoc_topics) + 50
    assert first == all_docs[: len(first)]


def test_python_docs_revision_names_this_interpreter():
    major, minor, micro = sys.version_info[:3]
    assert python_docs.revision() == f"{platform.python_implementation().lower()}-{major}.{minor}.{micro}"


def test_python_docs_parses_modules_without_importing_them():
    """`antigravity` opens a web browser and `this` prints the Zen when imported; neither may be loaded."""
    script = (
        "import json, sys\n"
        "from minnow.data.builtin import python_docs\n"
        "origins = [doc['origin'] for doc in python_docs.generate()]\n"
        "print(json.dumps({'origins': origins, 'modules': sorted(sys.modules)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(LIB), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert {"source:antigravity.py", "source:this.py", "source:tkinter/__init__.py"} <= set(report["origins"])
    assert not {"antigravity", "this", "tkinter", "turtle"} & set(report["modules"])
