"""The workflow config: checks the JSON schema cannot express, defaults, and what each rule reads of it.

The schema (config/schema/config.schema.yaml) catches misspelt keys and wrong
types and is the one source of defaults; `check` catches a corpus mixing a
source that does not exist, a tokenizer trained on an unknown corpus, or a model
whose heads do not divide its width, with the dotted key of the mistake in the
message, before any stage has run. The lookups below are what the rules pass
their steps as params, kept here so they are unit-tested: a rule's params are
its rerun trigger, so each holds exactly what its step depends on.
"""

import copy
import glob
import math
import os
from pathlib import Path

from minnow.errors import InputError

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema" / "config.schema.yaml"
VAL_PREFIX = "val-"
DOCUMENTATION_ONLY = ("params", "gpu_memory_gb")  # a preset's advertised size and card: describe, shape nothing
# a preset's architecture keys, the six required ones first (a fine-tune takes them from its init model)
SHAPE = (
    *("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "context"),
    *("rope_theta", "norm_eps", "tie_embeddings"),
)

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


def init_chain(config: dict, model: str) -> list[str]:
    """The model and the models it starts from, nearest first, up to one without `init`,
    an unknown name or a repeat (which init_errors reports)."""
    chain = [model]
    while (base := config["models"].get(chain[-1], {}).get("init", {}).get("model")) and base not in chain:
        chain.append(base)
        if base not in config["models"]:
            break
    return chain


def model_shape(config: dict, model: str) -> dict:
    """A preset's architecture: the shape keys it states, the rest from its init chain."""
    shape = {}
    for name in reversed(init_chain(config, model)):
        shape |= {k: v for k, v in config["models"].get(name, {}).items() if k in SHAPE}
    return shape


def init_checkpoint(config: dict, model: str) -> dict | None:
    """The checkpoint outside minnow a model starts from (hf, or a GGUF file), if any."""
    init = config["models"][model].get("init", {})
    return None if not init or "model" in init else init


def init_folder(config: dict, model: str) -> str | None:
    """The model folder a model starts from: its base preset's, or its imported checkpoint's."""
    if base := init_model(config, model):
        return f"results/{base}"
    return f"results/{model}/init" if init_checkpoint(config, model) else None


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
                for k in SHAPE
                if k in m and k in shape and m[k] != shape[k]
            ]
    return errors


def model_errors(config: dict) -> list[str]:
    """Shapes and schedules the schema cannot check, caught before any stage runs."""
    errors = []
    for name in config.get("models", {}):
        m, key, t = model_shape(config, name), f"models.{name}", config["models"][name]["train"]
        if not all(k in m for k in SHAPE[:6]):
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
        rows, global_rows = t.get("micro_batch"), t["batch_size"] * t.get("grad_accum", 1)
        if isinstance(rows, int) and global_rows % rows:
            errors.append(f"{key}.train.micro_batch: {rows} does not divide batch_size x grad_accum ({global_rows})")
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


def known_models(config: dict) -> str:
    """The presets a config defines, for messages about a model name that is not one."""
    return "defined: " + (", ".join(sorted(config.get("models", {}))) or "none")


def check(config: dict) -> None:
    """Raise InputError listing every dangling reference in `config`."""
    errors = reference_errors(config) + init_errors(config) + model_errors(config) + target_errors(config)
    errors += downstream_errors(config)
    if errors:
        raise InputError("invalid config:\n  " + "\n  ".join(errors))


# --- defaults --------------------------------------------------------------------------------


def _filling_validator(schema: dict):
    """A jsonschema validator that also writes each property's default into the instance,
    as Snakemake's `validate` does for the workflow's config."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)

    def properties(validator, props, instance, subschema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from base.VALIDATORS["properties"](validator, props, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": properties})(schema)


def with_defaults(kind: str, entry: dict, schema_path: Path = SCHEMA) -> dict:
    """A copy of one config entry of `kind` (a name under the schema's $defs: model,
    corpus, source, ...) with the schema's defaults filled in, for code that builds
    entries by hand (tests, benchmarks); refused with the key named if it is invalid."""
    import yaml

    try:
        schema = yaml.safe_load(Path(schema_path).read_text())
    except OSError as e:
        raise InputError(f"the config schema is not readable ({e})") from None
    entry = copy.deepcopy(entry)
    validator = _filling_validator({"$schema": schema["$schema"], "$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})
    errors = sorted(validator.iter_errors(entry), key=lambda e: list(e.absolute_path))
    if errors:
        where = ".".join([kind, *map(str, errors[0].absolute_path)])
        raise InputError(f"{where}: {errors[0].message}")
    return entry


# --- what each rule reads of the config ------------------------------------------------------


def eval_set_names(config: dict) -> list[str]:
    """Every corpus's val split (val-<corpus>) and the config's extra eval sets."""
    return [VAL_PREFIX + c for c in config["corpora"]] + list(config["evaluation"]["eval_sets"])


def eval_set_spec(config: dict, name: str) -> dict:
    """An eval set's entry; a val-<corpus> set is that corpus's val split."""
    if name.startswith(VAL_PREFIX):
        return {"kind": "corpus_heldout", "corpus": name.removeprefix(VAL_PREFIX)}
    return config["evaluation"]["eval_sets"][name]


def model_eval_sets(config: dict, model: str) -> list[str]:
    """A model is evaluated on its own corpus's val split and every extra eval set."""
    return [VAL_PREFIX + config["models"][model]["corpus"], *config["evaluation"]["eval_sets"]]


def perplexity_protocol(config: dict) -> dict:
    """The evaluation settings perplexity depends on: all but the downstream tasks."""
    return {k: v for k, v in config["evaluation"].items() if k != "downstream"}


def window_protocol(config: dict) -> dict:
    """How documents are cut into windows and batched, and where: what every scorer of the
    same documents shares (the perplexity, reference and export stages)."""
    return {k: config["evaluation"][k] for k in ("stride_fraction", "batch_tokens", "device")}


def downstream(config: dict) -> dict:
    """evaluation.downstream, its defaults filled in."""
    return with_defaults("downstream", config["evaluation"].get("downstream", {}))


def downstream_references(config: dict) -> list[str]:
    """The references scored on the downstream tasks (none while there are no tasks)."""
    settings = downstream(config)
    if not settings["tasks"]:
        return []
    return list(config["references"]) if settings["references"] is None else settings["references"]


def downstream_task_files(config: dict) -> list[str]:
    """The files of the custom task folder: editing one reruns the downstream stage."""
    include = downstream(config)["include_path"]
    return _folder_files(include) if include else []


def model_preset(config: dict, model: str) -> dict:
    """The preset the train step runs, its shape filled from its init chain, without the
    keys that only document it."""
    preset = {k: v for k, v in config["models"][model].items() if k not in DOCUMENTATION_ONLY}
    return {**model_shape(config, model), **preset}


def init_model(config: dict, model: str) -> str | None:
    """The preset a model starts from, if any."""
    return config["models"][model].get("init", {}).get("model")


def model_data(config: dict, model: str) -> dict:
    """What a model folder records of its data: chat lowercases input if training text was."""
    m = config["models"][model]
    sources = config["corpora"][m["corpus"]]["sources"].values()
    return {"corpus": m["corpus"], "tokenizer": m["tokenizer"], "lowercase": all(s["lowercase"] for s in sources)}


def source_parts(config: dict, source: str) -> int:
    """How many parts (download jobs, and prepare_part and mix_part jobs per corpus) a source is read as."""
    from minnow.data import parts

    spec = config["sources"][source]
    size = sum(os.path.getsize(f) for f in local_files(spec) if os.path.isfile(f)) if spec["kind"] == "local" else 0
    return parts.count(spec, size)


def part_names(config: dict, source: str) -> list[str]:
    return [f"{i:05d}" for i in range(source_parts(config, source))]


def corpus_parts(config: dict, corpus: str) -> list[tuple[str, str]]:
    """(source, part) of every part a corpus reads, in the corpus's source order."""
    return [(s, p) for s in config["corpora"][corpus]["sources"] for p in part_names(config, s)]


def whole_text(config: dict, source: str) -> bool:
    """Whether some corpus reads this source's text files whole, so no part may cut one."""
    return any(
        c["sources"][source]["text_unit"] == "file" for c in config["corpora"].values() if source in c["sources"]
    )


def part_settings(config: dict, corpus: str, source: str) -> dict:
    """What prepare_part reads of a corpus: the source's reading options, the filters and
    the signature settings (not the weights, split or threshold: those are dedup's)."""
    from minnow.data import parts

    return parts.part_settings(config["corpora"][corpus], source)


def dedup_settings(config: dict, corpus: str) -> dict:
    """What the dedup step reads of a corpus: the threshold, the split and the mix."""
    c = config["corpora"][corpus]
    return {
        "sources": {s: {"weight": o["weight"]} for s, o in c["sources"].items()},
        **{k: c[k] for k in ("mix_by", "total", "val_fraction", "val_split", "seed", "dedup")},
    }


def tokenizer_step_excludes(kind: str) -> frozenset[str]:
    """Modules the train_tokenizer script imports that a tokenizer of `kind` never runs (a
    trained one loads no checkpoint, so the `pretrained` package and its tokenizer module
    are left out of its code digest)."""
    return frozenset() if kind == "pretrained" else frozenset({"minnow.pretrained", "minnow.pretrained.tokenizer"})


def local_files(spec: dict) -> list[str]:
    """The files on this machine that a source, eval set or reference entry reads:
    what a rule must digest so that editing, adding or removing one reruns it."""
    kind = spec.get("kind")
    if kind == "local":
        patterns = spec["paths"] if "paths" in spec else [spec["path"]]
        return _matches(patterns) or ([spec["path"]] if "path" in spec else [])
    if spec.get("gguf_path"):
        return [spec["gguf_path"]]
    if kind == "hf":
        return _folder_files(spec["path"]) or _matches(_data_file_patterns(spec.get("data_files")))
    if spec.get("hf"):  # a reference given as a local model folder
        return _folder_files(spec["hf"])
    return []


def _matches(patterns: list[str]) -> list[str]:
    return sorted({p for pattern in patterns for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)})


def _folder_files(path: str) -> list[str]:
    """Every file under `path` if it is a local folder (a dataset or model saved to disk);
    a Hub id is no folder and reads nothing here (its `revision` pins it)."""
    root = Path(path)
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def _data_file_patterns(data_files) -> list[str]:
    """`data_files` of a datasets builder (json, parquet, ...) as a list of patterns."""
    if isinstance(data_files, str):
        return [data_files]
    if isinstance(data_files, dict):
        return [p for v in data_files.values() for p in ([v] if isinstance(v, str) else v)]
    return list(data_files or [])
