"""What README.md and docs/*.md tell a user to type exists: each `make` target, each Snakemake
target (planned by Snakemake itself, under the config file its command names), each config
snippet (valid against the schema, merged over the default as --configfile merges it) and
each config key path quoted in the text."""

import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate

from config_reference import SCHEMA, keys
from conftest import REPO, copy_workflow, snakemake

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCED = re.compile(r"```(\w*)\n(.*?)```", re.S)
# the config's sections, and the settings a preset or corpus entry nests, that a dotted key path starts with
SECTIONS = ("sources", "corpora", "tokenizers", "models", "evaluation", "references", "samples", "export", "shard")
NESTED = ("train", "init", "filters", "dedup", "downstream")


def blocks(kind: str) -> list[tuple[Path, str]]:
    return [(page, body) for page in PAGES for lang, body in FENCED.findall(page.read_text()) if lang == kind]


def commands() -> list[tuple[Path, str]]:
    """Shell lines of the pages' bash blocks and inline code, comments cut off."""
    found = [(page, line.split("#")[0]) for page, body in blocks("bash") for line in body.splitlines()]
    for page in PAGES:
        found += [(page, code) for code in re.findall(r"`([^`\n]+)`", FENCED.sub("", page.read_text()))]
    return found


def test_every_make_target_the_pages_name_exists():
    targets = set(re.findall(r"^([a-z-]+):", (REPO / "Makefile").read_text(), re.M))
    named = {(page.name, t) for page, line in commands() for t in re.findall(r"\bmake ([a-z-]+)", line)}
    assert named and {t for _, t in named} <= targets, sorted(n for n in named if n[1] not in targets)


def schema_paths() -> list[list[str]]:
    schema = yaml.safe_load(SCHEMA.read_text())
    return [path.replace("[]", "").split(".") for path, _ in keys(schema, "", schema["$defs"])]


def resolves(quoted: str, paths: list[list[str]]) -> bool:
    """Whether a dotted key path is the end of a path of the schema (`<...>`: any name)."""
    want = quoted.split(".")
    return any(
        len(path) >= len(want)
        and all(w == p or p.startswith("<") or w.startswith("<") for w, p in zip(want, path[-len(want) :], strict=True))
        for path in paths
    )


def test_every_config_key_path_the_pages_quote_exists():
    paths, quoted = schema_paths(), set()
    for page in PAGES:
        for code in re.findall(r"`([a-z_][\w<>]*(?:\.[\w<>]+)+)`", FENCED.sub("", page.read_text())):
            if code.split(".")[0] in SECTIONS + NESTED and not re.search(r"\.(json|yaml|py|md|txt|smk)$", code):
                quoted.add((page.name, code))
    assert len(quoted) > 20 and [q for q in sorted(quoted) if not resolves(q[1], paths)] == []


def test_every_config_snippet_is_valid_merged_over_the_default():
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    snippets = [(page.name, yaml.safe_load(body)) for page, body in blocks("yaml")]
    assert len(snippets) >= 5
    for page, snippet in snippets:
        config = yaml.safe_load(yaml.safe_dump(default))
        update_config(config, snippet)
        try:
            validate(config, str(SCHEMA))
        except Exception as e:  # Snakemake's WorkflowError, naming the key
            raise AssertionError(f"{page}: {snippet}") from e


def planned_targets() -> dict[str | None, set[str]]:
    """Targets of the pages' snakemake commands, by the config file each command merges."""
    found = {}
    for _, line in commands():
        if not re.match(r"\s*(\.venv/bin/)?snakemake\b", line) or "--profile" in line:
            continue
        config = re.search(r"--configfile (\S+)", line)
        targets = {t for t in re.findall(r"\s(results/\S+)", line) if "--report" not in line}
        found.setdefault(config and config[1], set()).update(targets)
    return found


@pytest.mark.slow
def test_every_snakemake_target_the_pages_name_is_planned(tmp_path):
    """Each group of targets is planned by `snakemake -n` in a fresh copy of the workflow, under
    the config file its command merges (one of the pages' own, written out where a snippet
    opens with its name), with a stand-in file wherever a config reads data the user brings."""
    found = {config: targets for config, targets in planned_targets().items() if targets}
    assert sum(map(len, found.values())) >= 8
    folder = copy_workflow(tmp_path / "minnow")
    for config, targets in found.items():
        if config and not (folder / config).exists():
            (folder / config).write_text(yaml.safe_dump(written_out(config)))
        stand_in_local_data(folder, config)
        args = ["--configfile", config] if config else []
        planned = snakemake(folder, "-n", *sorted(targets), "--quiet", "rules", *args, check=False)
        assert planned.returncode == 0, (config, targets, planned.stderr[-2000:])


def written_out(config: str) -> dict:
    """The snippet a page writes a config file of the user's own in (it opens with `# <name>`)."""
    for _, body in blocks("yaml"):
        if body.startswith(f"# {config}"):
            return yaml.safe_load(body)
    raise AssertionError(f"the pages run snakemake with --configfile {config} but write it out nowhere")


def stand_in_local_data(folder: Path, config: str | None) -> None:
    """A small file wherever a local source of the merged config has none yet."""
    merged = yaml.safe_load((folder / "config/config.yaml").read_text())
    if config:
        update_config(merged, yaml.safe_load((folder / config).read_text()) or {})
    for spec in merged["sources"].values():
        for pattern in spec.get("paths", []) if spec["kind"] == "local" else []:
            if not list(folder.glob(pattern)):
                path = folder / pattern.replace("**/", "").replace("*", "stand-in")
                path.parent.mkdir(parents=True, exist_ok=True)
                line = '{"prompt": "hi", "completion": "hello"}' if path.suffix == ".jsonl" else "a stand-in line."
                path.write_text(line + "\n")
