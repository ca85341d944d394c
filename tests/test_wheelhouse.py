"""tools/wheelhouse.py: a wheelhouse built where a package index is, installed where none is."""

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wheelhouse
from packaging.requirements import Requirement
from packaging.tags import platform_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from conftest import REPO, small_config, write_config
from workflow_copy import copy_workflow

TARGET_312 = wheelhouse.Target("3.12", wheelhouse.expand_platforms(["manylinux_2_28_x86_64"]))


def names(reqs: list[Requirement]) -> list[str]:
    return [canonicalize_name(r.name) for r in reqs]


def test_profiles_take_minnows_dependencies_as_the_node_runs_them():
    full = names(wheelhouse.root_requirements(wheelhouse.PROFILES["full"], []))
    assert {"torch", "mlflow", "lm-eval", "matplotlib", "snakemake"} <= set(full)

    gpu = wheelhouse.root_requirements(wheelhouse.PROFILES["gpu-check"], ["slurm"])
    assert {"mlflow-skinny", "sqlalchemy", "alembic", "snakemake", "datasets"} <= set(names(gpu))
    assert "snakemake-executor-plugin-slurm" in names(gpu)
    assert not {"mlflow", "lm-eval", "accelerate", "matplotlib"} & set(names(gpu))
    skinny = next(r for r in gpu if r.name == "mlflow-skinny")
    assert str(skinny.specifier) == str(Requirement("mlflow>=3,<4").specifier)  # mlflow's range, as pyproject has it


def test_the_nodes_packages_are_named_as_pip_list_prints_them_less_local_labels():
    assert str(wheelhouse.node_package("torch==2.11.0+cu128")) == "torch==2.11.0"
    assert str(wheelhouse.node_package("PyYAML")) == "PyYAML"
    reqs = [Requirement("torch==2.13.0"), Requirement("numpy>=1.26")]
    node = [Requirement("torch==2.11.0"), Requirement("numpy==2.1.0"), Requirement("pandas")]
    assert wheelhouse.outside_minnows_range(reqs, node) == ["the node's torch 2.11.0 is outside minnow's torch==2.13.0"]


def test_an_unknown_extra_names_the_extras_there_are():
    with pytest.raises(SystemExit, match="no extra gpu in pyproject.toml .*slurm"):
        wheelhouse.root_requirements(wheelhouse.PROFILES["full"], ["gpu"])


def metadata(name: str, version: str, requires: list[str]) -> dict:
    return {"metadata": {"name": name, "version": version, "requires_dist": requires}}


# pip's report, resolved on 3.11: it holds `backport` (3.11 only) and lacks `newdep` (3.12 only)
REPORT = {
    "install": [
        metadata(
            "app",
            "1.0",
            [
                "Lib_One>=1",
                'backport; python_version < "3.12"',
                'newdep>=2; python_version >= "3.12"',
                "Web[http]",
                'winonly; sys_platform == "win32"',
                "Node_Thing>=1",
            ],
        ),
        metadata("lib-one", "1.2", ["typing_extensions"]),
        metadata("backport", "0.1", []),
        metadata("web", "2.0", ['aiohttp; extra == "http"', 'never; extra == "other"']),
        metadata("aiohttp", "3.0", []),
        metadata("Typing_Extensions", "4.12", []),
        metadata("Node.Thing", "1.0", ["typing-extensions>=4", "node-only"]),
        metadata("node-only", "1.0", []),
    ]
}


def test_the_graph_is_walked_under_the_targets_markers_with_extras_and_normalised_names():
    node = frozenset({"node-thing"})
    wanted, left, missing = wheelhouse.reach(REPORT, [Requirement("app")], TARGET_312.markers(), node)
    assert wanted == {
        "app",
        "lib-one",
        "typing-extensions",
        "web",
        "aiohttp",
    }  # not node-only: only node-thing needs it
    assert left == {"node-thing"}
    assert [str(r) for r in missing] == ['newdep>=2; python_version >= "3.12"']

    target_311 = wheelhouse.Target("3.11", TARGET_312.platforms)
    wanted, left, missing = wheelhouse.reach(REPORT, [Requirement("app")], target_311.markers(), frozenset())
    assert {"backport", "node-thing", "node-only"} <= wanted and left == set() and missing == []


def test_plan_resolves_what_pip_missed_for_the_target_and_leaves_the_nodes_packages_out(monkeypatch, tmp_path):
    rounds = []

    def resolve(reqs, node, target, built):
        rounds.append([str(r) for r in reqs])
        return REPORT if len(rounds) == 1 else {"install": [*REPORT["install"], metadata("newdep", "2.5", [])]}

    monkeypatch.setattr(wheelhouse, "resolve", resolve)
    reqs = [Requirement("app"), Requirement("node-thing>=0.5")]
    pins, left = wheelhouse.plan(reqs, [Requirement("Node_Thing==1.0")], TARGET_312, tmp_path)
    assert rounds == [["app"], ["app", "newdep>=2"]]  # the node's package is not pip's to resolve
    # typing-extensions: the node's package needs it, but so does one in the house
    house = {"aiohttp": "3.0", "app": "1.0", "lib-one": "1.2", "newdep": "2.5", "typing-extensions": "4.12"}
    assert pins == house | {"web": "2.0"}
    assert left == {"node-thing"}


# pip 26's output where no version of snakemake resolves for want of a connection_pool wheel
SNAKEMAKE_CONFLICT = """The conflict is caused by:
    snakemake 9.27.1 depends on connection_pool>=0.0.3
    snakemake 9.27.0 depends on connection_pool>=0.0.3

Additionally, some packages in these conflicts have no matching distributions available for your environment:
    connection-pool

To fix this you could try to:
"""


def test_pip_names_the_packages_without_a_wheel_for_the_target_in_two_ways():
    assert wheelhouse.lacking_wheels(SNAKEMAKE_CONFLICT) == ["connection-pool"]
    top = "ERROR: Could not find a version ...\nERROR: No matching distribution found for Rensa>=0.5\n"
    assert wheelhouse.lacking_wheels(top) == ["rensa"]
    assert wheelhouse.lacking_wheels("ERROR: ResolutionImpossible: torch==2.11 and torch==2.13\n") == []


class FakePip:
    """pip's answers to resolve(): no wheel for connection_pool at first, then a report; `built`
    names the wheel `pip wheel` makes of its sdist."""

    def __init__(self, built: str):
        self.built, self.calls = built, []

    def __call__(self, *args):
        self.calls.append(args)
        if args[0] == "wheel":
            Path(args[args.index("--wheel-dir") + 1], self.built).touch()
            return subprocess.CompletedProcess(args, 0, "", "")
        if len(self.calls) == 1:
            return subprocess.CompletedProcess(args, 1, SNAKEMAKE_CONFLICT, "ERROR: ResolutionImpossible: ...\n")
        Path(args[args.index("--report") + 1]).write_text(json.dumps(REPORT))
        return subprocess.CompletedProcess(args, 0, "", "")


def test_a_package_with_only_an_sdist_gets_a_pure_python_wheel_built_here(monkeypatch, tmp_path):
    fake = FakePip("connection_pool-0.0.3-py3-none-any.whl")
    monkeypatch.setattr(wheelhouse, "pip", fake)
    built = tmp_path / "built"
    built.mkdir()
    node = [Requirement("pyyaml==6.0.2"), Requirement("numpy")]
    assert wheelhouse.resolve([Requirement("snakemake")], node, TARGET_312, built) == REPORT
    assert (tmp_path / "constraints.txt").read_text() == "pyyaml==6.0.2\n"  # a bare name constrains nothing
    assert [c[0] for c in fake.calls] == ["install", "wheel", "install"]
    assert fake.calls[1][-1] == "connection-pool"
    assert [p.name for p in built.iterdir()] == ["connection_pool-0.0.3-py3-none-any.whl"]


def test_an_sdist_that_is_not_pure_python_stops_the_build_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(wheelhouse, "pip", FakePip("connection_pool-0.0.3-cp311-cp311-linux_x86_64.whl"))
    (tmp_path / "built").mkdir()
    with pytest.raises(SystemExit, match="no cp312 manylinux_2_28_x86_64 wheel for connection-pool and its sdist is"):
        wheelhouse.resolve([Requirement("snakemake")], [], TARGET_312, tmp_path / "built")


def test_a_node_package_pinned_to_a_version_the_index_lacks_is_named_not_built(monkeypatch, tmp_path):
    monkeypatch.setattr(wheelhouse, "pip", FakePip("never-built.whl"))
    (tmp_path / "built").mkdir()
    with pytest.raises(SystemExit, match="the node's connection-pool==0.0.3 has no cp312 .* drop its version"):
        wheelhouse.resolve(
            [Requirement("snakemake")], [Requirement("connection-pool==0.0.3")], TARGET_312, tmp_path / "built"
        )


def test_platforms_take_every_older_glibc_and_markers_the_targets_machine():
    platforms = wheelhouse.expand_platforms(["manylinux_2_28_aarch64"])
    assert platforms[0] == "manylinux_2_28_aarch64"
    assert {"manylinux_2_17_aarch64", "manylinux2014_aarch64", "manylinux_2_5_aarch64"} <= set(platforms)
    assert "manylinux_2_29_aarch64" not in platforms
    assert wheelhouse.expand_platforms(["manylinux2014_x86_64"]) == ("manylinux2014_x86_64",)
    env = wheelhouse.Target("3.13", platforms).markers()
    assert (env["platform_machine"], env["python_version"], env["sys_platform"]) == ("aarch64", "3.13", "linux")
    with pytest.raises(SystemExit, match="macosx_14_0_arm64: not a Linux platform"):
        wheelhouse.Target("3.12", ("macosx_14_0_arm64",))
    with pytest.raises(SystemExit, match="--python-version 312: give major.minor"):
        wheelhouse.Target("312", platforms)


def test_requirements_list_exactly_the_wheels_in_the_house(tmp_path):
    wheels = [
        "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "connection_pool-0.0.3-py3-none-any.whl",
        "minnow-0.1.0-py3-none-any.whl",
    ]
    for name in wheels:
        (tmp_path / name).touch()
    pins = wheelhouse.write_requirements(tmp_path, ["python 3.12"])
    assert pins == ["connection-pool==0.0.3", "minnow==0.1.0", "pyyaml==6.0.2"]
    assert (tmp_path / "requirements.txt").read_text().splitlines() == ["# python 3.12", *pins]


def test_a_folder_holding_more_than_a_wheelhouse_is_refused_and_an_old_house_emptied(tmp_path):
    (tmp_path / "notes.txt").touch()
    with pytest.raises(SystemExit, match=r"holds more than a wheelhouse \(notes.txt\)"):
        wheelhouse.empty_folder(tmp_path)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "old-1.0-py3-none-any.whl").touch()
    (tmp_path / "requirements.txt").touch()
    wheelhouse.empty_folder(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_install_refuses_a_house_built_for_another_python(tmp_path):
    (tmp_path / "requirements.txt").write_text("# python 2.7\nminnow==0.1.0\n")
    with pytest.raises(SystemExit, match="the wheelhouse is for Python 2.7"):
        wheelhouse.main(["install", str(tmp_path)])


def node_image(roots: tuple[str, ...]) -> dict[str, importlib.metadata.Distribution]:
    """The roots as installed here, with everything they require: what a node image holding
    the roots holds."""
    found, todo = {}, list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name not in found:
            found[name] = importlib.metadata.distribution(name)
            reqs = map(Requirement, found[name].requires or [])
            todo += [r.name for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    return found


def expose(dists: dict[str, importlib.metadata.Distribution], folder: Path) -> Path:
    """`folder` holding links to these distributions' files here and to nothing else: the
    site-packages of a node image."""
    folder.mkdir()
    for dist in dists.values():
        for top in {Path(f).parts[0] for f in dist.files or []} - {"..", "__pycache__"}:
            if not (folder / top).exists() and not top.endswith(".pth"):
                (folder / top).symlink_to(dist.locate_file(top))
    return folder


def run(cmd: list, env: dict | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env, cwd=cwd, timeout=1200)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd[:4]))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


# what the GPU check's node image had (and, with them, what they require)
MEASURED_NODE = ("torch", "transformers", "tokenizers", "numpy", "pandas", "pyarrow", "safetensors", "pyyaml")
OFFLINE = {  # a node without an index: pip is told of none, and any attempt at one fails
    "PIP_NO_INDEX": "1",
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_CONFIG_FILE": os.devnull,
    **dict.fromkeys(["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"], "http://127.0.0.1:9"),
}


@pytest.mark.slow
def test_a_wheelhouse_installs_and_runs_on_a_node_without_an_index(tmp_path):
    """The GPU check's house for this machine's Python and platform, the node image holding
    MEASURED_NODE's packages as installed here (pinned), installed into a fresh venv that sees
    only those, every index unreachable: there minnow imports, and Snakemake runs the data stages."""
    have = node_image(MEASURED_NODE)
    pins = [f"{name}=={dist.version.split('+')[0]}" for name, dist in have.items()]
    house, python = tmp_path / "house", f"{sys.version_info.major}.{sys.version_info.minor}"
    build = ["build", house, "--python-version", python, "--platform", next(iter(platform_tags()))]
    start = time.monotonic()
    out = run([sys.executable, REPO / "tools/wheelhouse.py", *build, "--profile", "gpu-check", "--have", *pins])
    print(f"built in {time.monotonic() - start:.0f} s: {out.splitlines()[-1]}")

    wheels = {canonicalize_name(parse_wheel_filename(w.name)[0]): w for w in house.glob("*.whl")}
    assert not wheels.keys() & have.keys(), "the house holds what the node has"
    assert {"minnow", "snakemake", "connection-pool", "jsonschema", "mlflow-skinny", "alembic"} <= wheels.keys()
    assert not {"mlflow", "lm-eval", "scipy"} & wheels.keys()
    listed = [line for line in (house / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert sorted(n.split("==")[0] for n in listed) == sorted(wheels)
    assert sum(w.stat().st_size for w in wheels.values()) < 100e6

    venv = tmp_path / "node"
    run([sys.executable, "-m", "venv", venv])
    image = expose(have, tmp_path / "node-image")
    # after the venv's own site-packages, as a node image's packages under a venv made over them
    (next(venv.glob("lib/python*/site-packages")) / "node_image.pth").write_text(f"{image}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"} | OFFLINE
    run([sys.executable, REPO / "tools/wheelhouse.py", "install", house, "--python", venv / "bin/python"], env=env)

    code = "import minnow.train.loop, mlflow, torch; print(minnow.__file__, mlflow.__file__, torch.__file__)"
    files = run([venv / "bin/python", "-c", code], env=env, cwd=tmp_path).split()
    assert [Path(f).is_relative_to(venv) for f in files] == [True, True, False]
    assert Path(files[2]).is_relative_to(image)
    assert run([venv / "bin/snakemake", "--version"], env=env).startswith("9.")
    # the data stages for real, each logging its MLflow run to SQLite through mlflow-skinny
    workflow = copy_workflow(tmp_path / "minnow")
    write_config(workflow, small_config())
    shards = "results/shards/default/bpe512/meta.json"
    run([venv / "bin/snakemake", "--cores", "2", shards], env, workflow)
    assert (workflow / shards).is_file() and (workflow / "results/mlflow.db").is_file()
