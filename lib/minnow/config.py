"""Checks the JSON schema cannot express, run when the workflow is parsed.

The schema catches misspelt keys and wrong types; this catches a corpus mixing
a source that does not exist, a tokenizer trained on an unknown corpus, or a
model whose heads do not divide its width, with the dotted key of the mistake
in the message, before any stage has run.
"""

import math

from minnow.errors import InputError

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
            for name in _names(spec[field]):
                if name not in config.get(target, {}):
                    known = ", ".join(sorted(config.get(target, {}))) or "none"
                    errors.append(f"{section}.{entry}.{field}: '{name}' is not defined under {target} (defined: {known})")
    return errors


def embedding_rows(requested_vocab: int) -> int:
    """A model's embedding rows: its tokenizer's requested size rounded up to a multiple
    of 64, fixed by the config alone so the architecture never depends on how far BPE got."""
    return -(-requested_vocab // 64) * 64


def model_errors(config: dict) -> list[str]:
    """Shapes and schedules the schema cannot check, caught before any stage runs."""
    errors = []
    for name, m in config.get("models", {}).items():
        key, t = f"models.{name}", m["train"]
        if m["d_model"] % m["n_heads"] or (m["d_model"] // m["n_heads"]) % 2:
            errors.append(f"{key}.n_heads: d_model {m['d_model']} must split into n_heads {m['n_heads']} heads of even size")
        if m["n_heads"] % m["n_kv_heads"]:
            errors.append(f"{key}.n_kv_heads: n_heads {m['n_heads']} must be a multiple of n_kv_heads {m['n_kv_heads']}")
        if t.get("min_lr", 0) > t.get("lr", math.inf):
            errors.append(f"{key}.train.min_lr: {t['min_lr']} is above lr {t['lr']}")
        if t.get("warmup_steps", 0) >= t["steps"]:
            errors.append(f"{key}.train.warmup_steps: {t['warmup_steps']} leaves no step of the {t['steps']} after warmup")
    return errors


def target_errors(config: dict) -> list[str]:
    models = config.get("models", {})
    return [f"targets: '{t}' is not defined under models (defined: {', '.join(sorted(models)) or 'none'})"
            for t in config.get("targets", []) if t not in models]


def check(config: dict) -> None:
    """Raise InputError listing every dangling reference in `config`."""
    errors = reference_errors(config) + model_errors(config) + target_errors(config)
    if errors:
        raise InputError("invalid config:\n  " + "\n  ".join(errors))
