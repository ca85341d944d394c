"""docs/CONFIG.md: every setting described in the schema, and the page what the schema gives."""

import yaml

from config_reference import PAGE, SCHEMA, keys, render, resolve


def test_every_key_of_the_schema_says_what_it_does():
    schema = yaml.safe_load(SCHEMA.read_text())
    everything = [*keys(schema, "", schema["$defs"])]
    for name, node in schema["$defs"].items():
        everything += [*keys(node, f"{name}.", schema["$defs"])]
    undescribed = [path for path, node in everything if not resolve(node, schema["$defs"]).get("description")]
    assert len(everything) > 150 and undescribed == []


def test_the_reference_page_is_what_the_schema_gives():
    """Edit the schema, then run `python tools/config_reference.py`."""
    assert PAGE.read_text() == render(yaml.safe_load(SCHEMA.read_text()))
