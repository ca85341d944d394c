from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from minnow.errors import InputError
from minnow.workflow import checks
from minnow.workflow import config as minnow_config

REPO = Path(__file__).resolve().parents[2]
SCHEMA = str(REPO / "config" / "schema" / "config.schema.yaml")
CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml"))


def as_run(path: Path) -> dict:
    """A shipped config as Snakemake runs it: config.yaml alone, any other file merged
    over it (`--configfile config/<name>.yaml`)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if path.name != "config.yaml":
        update_config(config, yaml.safe_load(path.read_text()))
    return config


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    config = as_run(path)
    validate(config, SCHEMA)
    checks.check(config)


def test_defaults_are_filled_in():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    corpus = config["corpora"]["default"]
    assert corpus["dedup"]["threshold"] == 0.8 and corpus["filters"]["repetition"]["min_words"] == 50
    assert corpus["sources"]["pydocs"]["text_unit"] == "stream"  # a text file is one stream
    assert config["shard"]["batch_bytes"] == 1_000_000 and config["tokenizers"]["bpe4k"]["max_bytes"] == 10**9
    assert config["sources"]["guppy"]["parts"] is None


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["tokenizers"]["bpe4k"].update(vocab_sise=10), "'vocab_sise' was unexpected"),
        (lambda c: c["tokenizers"]["bpe4k"].update(kind="word"), "'word' is not one of \\['bpe', 'char', 'pretr"),
        (lambda c: c["corpora"]["default"]["filters"].update(min_alnum_ratio="high"), "'high' is not of type 'number'"),
        (lambda c: c["sources"]["guppy"].update(kind="ftp"), "'ftp' is not one of"),
        (lambda c: c["sources"].update(web={"kind": "url"}), "'url' is a required property"),
    ],
)
def test_config_mistakes_are_named(edit, message):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    edit(config)
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


def test_impossible_model_shapes_and_schedules_are_named():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    tiny = config["models"]["tiny"]
    tiny.update(n_heads=3, n_kv_heads=2)
    tiny["train"].update(min_lr=1.0, warmup_steps=10_000, micro_batch=5)
    with pytest.raises(InputError) as err:
        checks.check(config)
    message = str(err.value)
    assert "models.tiny.n_heads: d_model 128 must split into n_heads 3" in message
    assert "models.tiny.n_kv_heads: n_heads 3 must be a multiple of n_kv_heads 2" in message
    assert "models.tiny.train.min_lr" in message and "models.tiny.train.warmup_steps" in message
    divide = "models.tiny.train.micro_batch: 5 does not divide a rank's batch of batch_size x grad_accum"
    assert f"{divide} = 16 x 1 = 16 sequences" in message


def test_dangling_references_are_named():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["corpora"]["default"]["sources"]["gupy"] = {"weight": 1}
    config["tokenizers"]["bpe4k"]["corpus"] = "defualt"
    with pytest.raises(InputError) as err:
        checks.check(config)
    assert "corpora.default.sources: 'gupy' is not defined under sources" in str(err.value)
    assert "tokenizers.bpe4k.corpus: 'defualt' is not defined under corpora" in str(err.value)


def test_local_files_are_what_each_kind_of_entry_reads(tmp_path, monkeypatch):
    from minnow.workflow.config import local_files

    monkeypatch.chdir(tmp_path)
    for name in ("data/a.txt", "data/sub/b.txt", "data/c.jsonl", "hub/ds/train.parquet", "models/m/model.safetensors"):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("x")
    assert local_files({"kind": "local", "paths": ["data/**/*.txt", "data/*.jsonl"]}) == [
        "data/a.txt",
        "data/c.jsonl",
        "data/sub/b.txt",
    ]
    assert local_files({"kind": "local", "path": "data/missing.txt"}) == [
        "data/missing.txt"
    ]  # the step says it is missing
    assert local_files({"gguf_path": "models/x.gguf"}) == ["models/x.gguf"]
    assert local_files({"kind": "hf", "path": "hub/ds", "split": "train"}) == ["hub/ds/train.parquet"]
    assert local_files({"kind": "hf", "path": "json", "data_files": {"train": ["data/*.jsonl"]}}) == ["data/c.jsonl"]
    assert local_files({"kind": "hf", "path": "roneneldan/TinyStories"}) == []
    assert local_files({"hf": "models/m"}) == ["models/m/model.safetensors"]
    assert local_files({"hf": "gpt2"}) == [] and local_files({"kind": "builtin", "generator": "guppy"}) == []


def test_with_defaults_fills_the_schemas_defaults_and_names_a_bad_key():
    from minnow.workflow.config import with_defaults

    train = with_defaults("train", {"steps": 10, "batch_size": 2})
    assert train["lr"] == 3.0e-3 and train["precision"] == "auto" and train["gpus"] == 1
    with pytest.raises(InputError, match=r"^train: Additional properties are not allowed \('stepz' was unexpected\)"):
        with_defaults("train", {"steps": 10, "batch_size": 2, "stepz": 1})
    with pytest.raises(InputError, match=r"^train\.lr: 'fast' is not of type 'number'"):
        with_defaults("train", {"steps": 10, "batch_size": 2, "lr": "fast"})


def shipped() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    return config


def test_what_rules_read_of_the_config():
    config = shipped()
    assert minnow_config.eval_set_names(config) == ["val-default", "val-guppy"]
    assert minnow_config.eval_set_spec(config, "val-guppy") == {"kind": "corpus_heldout", "corpus": "guppy"}
    assert minnow_config.model_eval_sets(config, "tiny") == ["val-default"]
    assert minnow_config.model_data(config, "guppy") == {"corpus": "guppy", "tokenizer": "guppy4k", "lowercase": True}
    assert minnow_config.model_data(config, "tiny")["lowercase"] is False  # pydocs keeps its case
    preset = minnow_config.model_preset(config, "tiny")
    assert "params" not in preset and preset["train"] == config["models"]["tiny"]["train"]


def test_downstream_tasks_are_off_by_default_and_never_touch_perplexity():
    config = shipped()
    assert minnow_config.downstream(config)["tasks"] == [] and minnow_config.downstream_references(config) == []
    without = minnow_config.perplexity_protocol(config)
    config["evaluation"]["downstream"] = {"tasks": ["hellaswag", {"task": "arc_easy", "fewshot": 25}]}
    validate(config, SCHEMA)
    assert minnow_config.perplexity_protocol(config) == without  # turning tasks on rescores no perplexity
    assert minnow_config.downstream(config)["batch_size"] == "auto"
    assert minnow_config.downstream_references(config) == ["smollm2-135m-instruct-q4_1"]
    config["evaluation"]["downstream"]["references"] = []
    assert minnow_config.downstream_references(config) == []


def test_downstream_mistakes_are_named():
    config = shipped()
    config["evaluation"]["downstream"] = {"tasks": [{"task": "piqa", "shots": 5}]}
    with pytest.raises(WorkflowError, match="'shots' was unexpected|is not valid under any of the given schemas"):
        validate(config, SCHEMA)
    config["evaluation"]["downstream"] = {"tasks": ["piqa"], "references": ["gpt9"]}
    with pytest.raises(InputError, match="evaluation.downstream.references: 'gpt9' is not defined under references"):
        checks.check(config)
    config["evaluation"] = {**config["evaluation"], "downstream": {}, "eval_sets": {"downstream": {"kind": "local"}}}
    with pytest.raises(WorkflowError, match="downstream"):
        validate(config, SCHEMA)


def test_a_fine_tune_takes_its_shape_from_its_init_model_and_must_agree_with_it():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    checks.check(config)
    preset = minnow_config.model_preset(config, "tiny-chat")
    tiny = config["models"]["tiny"]
    assert {k: preset[k] for k in ("d_model", "n_layers", "context")} == {
        k: tiny[k] for k in ("d_model", "n_layers", "context")
    }
    assert preset["init"] == {"model": "tiny"} and minnow_config.init_model(config, "tiny-chat") == "tiny"
    assert minnow_config.init_model(config, "tiny") is None

    config["models"]["tiny-chat"]["d_model"] = 256
    config["models"]["loop-a"] = {**config["models"]["tiny-chat"], "init": {"model": "loop-b"}}
    config["models"]["loop-b"] = {**config["models"]["tiny-chat"], "init": {"model": "loop-a"}, "d_model": 128}
    config["models"]["orphan"] = {**config["models"]["tiny-chat"], "init": {"model": "tinny"}, "d_model": 128}
    config["models"]["other-tok"] = {**config["models"]["tiny-chat"], "tokenizer": "guppy4k", "d_model": 128}
    del config["models"]["loop-a"]["d_model"]
    with pytest.raises(InputError) as err:
        checks.check(config)
    message = str(err.value)
    assert "models.tiny-chat.d_model: 256 disagrees with its init model tiny's 128" in message
    assert "models.orphan.init.model: 'tinny' is not defined under models" in message
    assert "models.loop-a.init.model: loop-a -> loop-b -> loop-a is a cycle" in message
    assert "models.other-tok.tokenizer: 'guppy4k' differs from its init model tiny's 'bpe4k'" in message


def test_a_model_without_init_still_needs_its_shape():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    del config["models"]["tiny"]["d_model"]
    with pytest.raises(WorkflowError, match="'d_model' is a required property"):
        validate(config, SCHEMA)


def test_a_model_from_a_checkpoint_reads_text_with_that_checkpoints_tokenizer():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    checks.check(config)
    smol = config["models"]["smollm2-guppy"]["init"]
    assert minnow_config.init_checkpoint(config, "smollm2-guppy") == smol
    assert minnow_config.init_folder(config, "smollm2-guppy") == "results/smollm2-guppy/init"
    assert minnow_config.init_folder(config, "tiny-chat") == "results/tiny"
    assert minnow_config.init_folder(config, "tiny") is None
    assert minnow_config.init_checkpoint(config, "tiny-chat") is None

    config["models"]["wrong-tok"] = {**config["models"]["smollm2-guppy"], "tokenizer": "bpe4k"}
    other = {"gguf_path": "other.gguf"}
    config["tokenizers"]["other"] = {"kind": "pretrained", "from": other}
    config["models"]["other-from"] = {**config["models"]["smollm2-guppy"], "tokenizer": "other"}
    with pytest.raises(InputError) as err:
        checks.check(config)
    message = str(err.value)
    assert "models.wrong-tok.tokenizer: 'bpe4k' is not its init checkpoint's tokenizer" in message
    assert "models.other-from.tokenizer: 'other' is not its init checkpoint's tokenizer" in message


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"kind": "pretrained"}, "'from' is a required property"),
        ({"kind": "pretrained", "from": {"gguf_path": "x.gguf"}, "vocab_size": 4096}, "should not be valid"),
        ({"corpus": "default", "vocab_size": 4096, "document_end": "<|eos|>"}, "should not be valid"),
        ({"kind": "pretrained", "from": {"gguf_file": "x.gguf"}}, "is not valid"),
    ],
)
def test_pretrained_tokenizer_mistakes_fail_the_schema(entry, message):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["tokenizers"]["broken"] = entry
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


def test_an_init_names_one_kind_of_start():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["models"]["tiny-chat"]["init"] = {"model": "tiny", "gguf_path": "x.gguf"}
    with pytest.raises(WorkflowError, match="is not valid under any of the given schemas"):
        validate(config, SCHEMA)
