"""environment.yml re-lists pyproject.toml's dependencies for conda users: keep the two the same."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_lists_exactly_pyprojects_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pip[-1] == "-e .", f"environment.yml's pip list should end with `-e .`, not {pip[-1]!r}"
    listed = pip[:-1]
    missing = [p for p in wanted if p not in listed]
    extra = [p for p in listed if p not in wanted]
    repeated = sorted({p for p in listed if listed.count(p) > 1})
    assert not (missing or extra or repeated), (
        "environment.yml's pip list differs from pyproject.toml's dependencies + the `test` extra: "
        f"missing {missing}, extra {extra}, repeated {repeated}"
    )
