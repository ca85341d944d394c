"""Checks the JSON schema cannot express: names that must refer to other entries.

The schema catches misspelt keys and wrong types; this catches a corpus mixing
a source that does not exist, or a tokenizer trained on an unknown corpus, with
the dotted key of the mistake in the message.
"""

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


def target_errors(config: dict) -> list[str]:
    models = config.get("models", {})
    return [f"targets: '{t}' is not defined under models (defined: {', '.join(sorted(models)) or 'none'})"
            for t in config.get("targets", []) if t not in models]


def check(config: dict) -> None:
    """Raise InputError listing every dangling reference in `config`."""
    errors = reference_errors(config) + target_errors(config)
    if errors:
        raise InputError("invalid config:\n  " + "\n  ".join(errors))
