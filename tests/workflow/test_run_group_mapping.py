"""Every rule's step run has an MLflow row: each rule of the real workflow (rules/*.smk)
whose script opens a step run is grouped under its model, its corpus or the evaluation,
for every representative value of its output's wildcards under the default config.

The rules and their steps are read from the workflow files themselves, not from a list
kept here, so a new rule whose step `run_groups.run_group` does not know fails this test."""

import itertools
import re
from pathlib import Path

from test_config import shipped

from minnow.workflow import config as minnow_config
from minnow.workflow import run_groups

REPO = Path(__file__).resolve().parents[2]
RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)
SECTION = re.compile(r"^    (\w+):", re.M)
SCRIPT = re.compile(r"^    script:\s*\n\s*[\"']([^\"']+)[\"']", re.M)
STEP_RUN = re.compile(r"tracking\.step_run\(\s*snakemake\s*,\s*step\s*=\s*[\"'](\w+)[\"']")


def _without_expand(text: str) -> str:
    """`text` with each expand(...) call replaced by the wildcards it keeps ({{name}}):
    its other {names} are expansion variables, not the rule's wildcards."""
    while (start := text.find("expand(")) >= 0:
        depth, end = 0, start + len("expand")
        for end in range(start + len("expand"), len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        kept = re.findall(r"\{\{(\w+)\}\}", text[start : end + 1])
        text = text[:start] + " ".join(f"{{{name}}}" for name in kept) + text[end + 1 :]
    return text


def output_wildcards(body: str) -> set[str]:
    """The wildcards of a rule's output patterns (its body's `output:` section)."""
    sections = list(SECTION.finditer(body))
    for here, after in zip(sections, [*sections[1:], None], strict=True):
        if here.group(1) == "output":
            text = body[here.end() : after.start() if after else len(body)]
            return set(re.findall(r"\{(\w+)", _without_expand(text)))
    return set()


def step_rules(repo: Path = REPO) -> list[tuple[str, str, set[str]]]:
    """(rule, step its script's run logs as, output wildcards) of every rule with a script."""
    found = []
    for smk in sorted((repo / "rules").glob("*.smk")):
        for rule in RULE.finditer(smk.read_text()):
            name, body = rule.groups()
            script = SCRIPT.search(body)
            if not script:
                continue
            source = (smk.parent / script.group(1)).resolve().read_text()
            steps = STEP_RUN.findall(source)
            assert len(steps) == 1, f"rule {name}: its script {script.group(1)} opens {len(steps)} step runs"
            found.append((name, steps[0], output_wildcards(body)))
    return found


def representative_wildcards(config: dict) -> dict[str, list[str]]:
    """Values each wildcard of the workflow takes under `config`."""
    used_sources = sorted({s for corpus in config["corpora"].values() for s in corpus["sources"]})
    return {
        "model": list(config["models"]),
        "corpus": list(config["corpora"]),
        "source": used_sources,
        "tokenizer": list(config["tokenizers"]),
        "evalset": minnow_config.eval_set_names(config),  # the val-<corpus> sets and the extra ones
        "reference": list(config["references"]),
        "part": ["00000"],
        "split": ["train", "val"],
    }


def default_config() -> dict:
    """The default config with its defaults filled, plus an extra (non-val) eval set."""
    config = shipped()
    config["evaluation"]["eval_sets"]["holdout"] = minnow_config.with_defaults(
        "eval_set", {"kind": "local", "path": "data/holdout.txt"}
    )
    return config


def test_the_workflow_rules_are_read_with_their_steps_and_wildcards():
    rules = {name: (step, wildcards) for name, step, wildcards in step_rules()}
    scripts = {p.stem for p in (REPO / "workflow_scripts").glob("*.py") if STEP_RUN.search(p.read_text())}
    assert {step for step, _ in rules.values()} == scripts, "every step script is some rule's"
    assert rules["train"] == ("train", {"model"})
    assert rules["export"] == ("export", {"model"})  # expand()'s {kind} is no wildcard
    assert rules["shard_part"] == ("shard_part", {"corpus", "tokenizer", "split", "source", "part"})
    assert rules["reference_perplexity"] == ("reference_perplexity", {"reference", "evalset"})


def test_every_rule_step_run_belongs_to_a_model_corpus_or_evaluation_row():
    config = default_config()
    values = representative_wildcards(config)
    assert all(values.values()), values  # the default config names at least one of each
    for rule, step, names in step_rules():
        unknown = names - set(values)
        assert not unknown, f"rule {rule}: give wildcards {sorted(unknown)} representative values here"
        for combination in itertools.product(*(values[n] for n in sorted(names))):
            wildcards = dict(zip(sorted(names), combination, strict=True))
            group = run_groups.run_group(config, step, wildcards)
            assert group is not None, f"rule {rule}: step {step!r} with {wildcards} has no MLflow row"
            kind, name = group
            assert kind in ("model", "corpus", "evaluation"), (rule, group)
            if "model" in wildcards:
                assert group == ("model", wildcards["model"]), (rule, wildcards, group)
            assert run_groups.group_identity(config, kind, name)  # the row can be found or created
