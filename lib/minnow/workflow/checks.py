"""The config checks the JSON schema cannot express, each naming the dotted key of the mistake.

The schema (config/schema/config.schema.yaml) catches misspelt keys and wrong
types; these catch a corpus mixing a source that does not exist, a tokenizer
trained on an unknown corpus, a fine-tune whose base is itself, or a model whose
heads do not divide its width, before any stage has run. Every mistake is listed
at once, so one edit of the config fixes them all.
"""

import math

from minnow.errors import InputError
from minnow.train.settings import REQUIRED_SHAPE_KEYS, SHAPE_KEYS, micro_batch_error
from minnow.workflow.config import init_chain, init_checkpoint, init_model, known_models, model_shape

REFERENCES = (
    # (section, field holding names, section the names must be in)
    ("corpora", "sources", "sources"),
    ("tokenizers", "corpus", "corpora"),
    ("models", "corpus", "corpora"),
    ("models", "tokenizer", "tokenizers"),
)


def _names(value) -> list[str]:
    return list(value) if isinstance(value, dict) else [value]


def reference_errors(config: dict) -> list[str]:
    errors = []
    for section, field, target in REFERENCES:
        for entry, spec in config.get(section, {}).items():
            for name in _names(spec[field]) if field in spec else []:  # a pretrained tokenizer reads no corpus
                if name not in config.get(target, {}):
                    known = ", ".join(sorted(config.get(target, {}))) or "none"
                    errors.append(
                        f"{section}.{entry}.{field}: '{name}' is not defined under {target} (defined: {known})"
                    )
    return errors


def pretrained_errors(config: dict) -> list[str]:
    """A model starting from a checkpoint reads text with that checkpoint's tokenizer."""
    errors = []
    for name in config.get("models", {}):
        checkpoint, tokenizer = init_checkpoint(config, name), config["models"][name]["tokenizer"]
        spec = config.get("tokenizers", {}).get(tokenizer)
        if checkpoint and spec is not None and (spec.get("kind") != "pretrained" or spec["from"] != checkpoint):
            errors.append(
                f"models.{name}.tokenizer: '{tokenizer}' is not its init checkpoint's tokenizer; define one as "
                f"tokenizers.<name>: {{kind: pretrained, from: {checkpoint}}}"
            )
    return errors


def init_errors(config: dict) -> list[str]:
    """A fine-tune's base must exist, not start from the fine-tune, share its tokenizer and
    agree with every shape key the fine-tune states."""
    errors, models = pretrained_errors(config), config.get("models", {})
    for name, m in models.items():
        if init_model(config, name) is None:
            continue
        base, key = m["init"]["model"], f"models.{name}"
        chain = init_chain(config, name)
        if base not in models:
            errors.append(f"{key}.init.model: '{base}' is not defined under models ({known_models(config)})")
        elif models.get(chain[-1], {}).get("init", {}).get("model") in chain:
            errors.append(f"{key}.init.model: {' -> '.join([*chain, models[chain[-1]]['init']['model']])} is a cycle")
        elif m["tokenizer"] != models[base]["tokenizer"]:
            errors.append(
                f"{key}.tokenizer: '{m['tokenizer']}' differs from its init model {base}'s "
                f"'{models[base]['tokenizer']}' (a model fine-tunes with the tokenizer it was trained with)"
            )
        else:
            shape = model_shape(config, base)
            errors += [
                f"{key}.{k}: {m[k]} disagrees with its init model {base}'s {shape[k]}"
                for k in SHAPE_KEYS
                if k in m and k in shape and m[k] != shape[k]
            ]
    return errors


def model_errors(config: dict) -> list[str]:
    """Shapes and schedules the schema cannot check, caught before any stage runs."""
    errors = []
    for name in config.get("models", {}):
        m, key, t = model_shape(config, name), f"models.{name}", config["models"][name]["train"]
        if not all(k in m for k in REQUIRED_SHAPE_KEYS):
            continue  # a broken init chain, reported by init_errors
        if m["d_model"] % m["n_heads"] or (m["d_model"] // m["n_heads"]) % 2:
            errors.append(
                f"{key}.n_heads: d_model {m['d_model']} must split into n_heads {m['n_heads']} heads of even size"
            )
        if m["n_heads"] % m["n_kv_heads"]:
            errors.append(
                f"{key}.n_kv_heads: n_heads {m['n_heads']} must be a multiple of n_kv_heads {m['n_kv_heads']}"
            )
        if t.get("min_lr", 0) > t.get("lr", math.inf):
            errors.append(f"{key}.train.min_lr: {t['min_lr']} is above lr {t['lr']}")
        if t.get("warmup_steps", 0) >= t["steps"]:
            errors.append(
                f"{key}.train.warmup_steps: {t['warmup_steps']} leaves no step of the {t['steps']} after warmup"
            )
        if t.get("parallel") == "fsdp" and t.get("optimizer") == "muon":
            errors.append(f"{key}.train.optimizer: muon does not run on FSDP shards; use adamw with parallel fsdp")
        if error := micro_batch_error(t):
            errors.append(f"{key}.{error}")
    return errors


def target_errors(config: dict) -> list[str]:
    return [
        f"targets: '{t}' is not defined under models ({known_models(config)})"
        for t in config.get("targets", [])
        if t not in config.get("models", {})
    ]


def downstream_errors(config: dict) -> list[str]:
    named = config.get("evaluation", {}).get("downstream", {}).get("references") or []
    known = ", ".join(sorted(config.get("references", {}))) or "none"
    return [
        f"evaluation.downstream.references: '{r}' is not defined under references (defined: {known})"
        for r in named
        if r not in config.get("references", {})
    ]


def check(config: dict) -> None:
    """Raise InputError listing every dangling reference in `config`."""
    errors = reference_errors(config) + init_errors(config) + model_errors(config) + target_errors(config)
    errors += downstream_errors(config)
    if errors:
        raise InputError("invalid config:\n  " + "\n  ".join(errors))
