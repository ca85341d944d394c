"""docs/CONFIG.md, the reference of every config key, generated from the config schema.

    python tools/config_reference.py            # rewrite docs/CONFIG.md
    python tools/config_reference.py --check    # exit 1 if it is not what the schema gives

The schema (config/schema/config.schema.yaml) is the one place a setting is
described: its type, default, allowed values and what it does. This turns it into
one table per section of the config file, in the file's order, each key by its
dotted path (`<name>` where the config chooses a name: a source's, a model's).
tests/test_config_reference.py keeps the page equal to what the schema gives.
"""

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"
PAGE = REPO / "docs" / "CONFIG.md"
# what a name chosen in the config stands for, in a key path
NAMES = {
    "sources": "<source>",
    "corpora": "<corpus>",
    "tokenizers": "<tokenizer>",
    "models": "<model>",
    "references": "<reference>",
    "eval_sets": "<set>",
    "top_n_grams": "<n>",
    "dup_n_grams": "<n>",
}
INTRO = """# Configuration reference

Every key minnow's config takes, generated from `config/schema/config.schema.yaml` by
`python tools/config_reference.py` (do not edit this page by hand). The offline default is
`config/config.yaml`; `snakemake --configfile my.yaml` merges your own file over it, so a
file of yours names only what it changes. `<source>`, `<model>` and the like stand for the
names you choose. A key left out takes its default; a key the schema does not know stops the
run, naming it.
"""


def resolve(node: dict, defs: dict) -> dict:
    """A schema node with its $ref followed (its own description kept over the target's)."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def keys(node: dict, path: str, defs: dict):
    """(dotted path, schema node) of every key below `node`, depth first, in the schema's order."""
    node = resolve(node, defs)
    for name, sub in (node.get("properties") or {}).items():
        sub = resolve(sub, defs)
        yield f"{path}{name}", sub
        yield from keys(sub, f"{path}{name}.", defs)
        for item in _alternatives(sub.get("items"), defs):
            yield from keys(item, f"{path}{name}[].", defs)
        named = sub.get("additionalProperties")
        if isinstance(named, dict) and (named.get("properties") or "$ref" in named):
            yield from keys(named, f"{path}{name}.{NAMES.get(name, '<name>')}.", defs)


def _alternatives(node, defs: dict) -> list[dict]:
    if not isinstance(node, dict):
        return []
    return [resolve(n, defs) for n in node.get("oneOf", [node])]


def kind(node: dict) -> str:
    """The type as a reader wants it: `one of: a, b` for an enum, types joined with `or`."""
    if "enum" in node:
        return "one of: " + ", ".join(f"`{v}`" for v in node["enum"])
    if any(key in alt for alt in node.get("oneOf", []) for key in ("type", "enum", "const")):
        return " or ".join(kind(alt) for alt in node["oneOf"])
    if "const" in node:
        return f"`{node['const']}`"
    types = node.get("type", "object")
    text = " or ".join(map(str, types if isinstance(types, list) else [types]))
    for key, word in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")):
        if key in node:
            text += f", {word} {node[key]}"
    return text


def default(node: dict) -> str:
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(schema: dict) -> str:
    """The page: the intro, then a table per top-level section of the config."""
    defs, lines = schema["$defs"], [INTRO]
    for section, node in schema["properties"].items():
        node = resolve(node, defs)
        lines += [f"## `{section}`", "", one_line(node.get("description", "")), ""]
        rows = [(section, node), *keys(node, f"{section}.", defs)]
        named = node.get("additionalProperties")
        if isinstance(named, dict):
            rows += list(keys(named, f"{section}.{NAMES.get(section, '<name>')}.", defs))
        lines += ["| key | type | default | what it does |", "|---|---|---|---|"]
        for path, sub in rows[1:] or rows:
            lines.append(f"| `{path}` | {kind(sub)} | {default(sub)} | {one_line(sub.get('description', ''))} |")
        lines.append("")
    return "\n".join(lines)


def main(check: bool) -> int:
    page = render(yaml.safe_load(SCHEMA.read_text()))
    if check:
        if PAGE.read_text() != page:
            print(f"{PAGE.relative_to(REPO)} is not what the schema gives: run python tools/config_reference.py")
            return 1
        return 0
    PAGE.write_text(page)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the page with the schema")
    sys.exit(main(parser.parse_args().check))
