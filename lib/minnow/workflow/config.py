"""The workflow config: its defaults, and what each rule reads of it.

The schema (config/schema/config.schema.yaml) is the one source of defaults
(`with_defaults` fills them into entries built by hand); `checks` catches what the
schema cannot. The lookups below are what the rules pass their steps as params,
kept here so they are unit-tested: a rule's params are its rerun trigger, so each
holds exactly what its step depends on.
"""

import copy
import glob
import os
from pathlib import Path

from minnow.errors import InputError
from minnow.model.param_count import embedding_rows
from minnow.train.settings import SHAPE_KEYS

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema" / "config.schema.yaml"
VAL_PREFIX = "val-"
DOCUMENTATION_ONLY = ("params", "gpu_memory_gb")  # a preset's advertised size and card: describe, shape nothing


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
        shape |= {k: v for k, v in config["models"].get(name, {}).items() if k in SHAPE_KEYS}
    return shape


def stated_shape(config: dict, model: str) -> dict:
    """The shape keys a preset states itself, which its imported checkpoint must agree with."""
    return {k: v for k, v in config["models"][model].items() if k in SHAPE_KEYS}


def requested_vocab_rows(config: dict, model: str) -> int | None:
    """Embedding rows from the config: its tokenizer's vocab_size, rounded (None where the
    init checkpoint or the pretrained tokenizer's checkpoint decides them)."""
    if init_checkpoint(config, model):
        return None
    requested = config["tokenizers"][config["models"][model]["tokenizer"]].get("vocab_size")
    return embedding_rows(requested) if requested else None


def init_checkpoint(config: dict, model: str) -> dict | None:
    """The checkpoint outside minnow a model starts from (hf, or a GGUF file), if any."""
    init = config["models"][model].get("init", {})
    return None if not init or "model" in init else init


def init_folder(config: dict, model: str) -> str | None:
    """The model folder a model starts from: its base preset's, or its imported checkpoint's."""
    if base := init_model(config, model):
        return f"results/{base}"
    return f"results/{model}/init" if init_checkpoint(config, model) else None


def known_models(config: dict) -> str:
    """The presets a config defines, for messages about a model name that is not one."""
    return "defined: " + (", ".join(sorted(config.get("models", {}))) or "none")


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
