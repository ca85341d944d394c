"""What the rules look up while Snakemake plans: resources, inputs, targets, rerun keys.

rules/common.smk only forwards its wildcards to these, so each is tested here on
the shipped config (its schema defaults filled in, as Snakemake fills them).
"""

import copy
import importlib.metadata
import os

import pytest
import yaml
from snakemake.utils import validate

from minnow.model.param_count import embedding_rows
from minnow.workflow import config as minnow_config
from minnow.workflow import identity, inputs, resources, targets

from conftest import REPO

SCHEMA = str(REPO / "config" / "schema" / "config.schema.yaml")


@pytest.fixture
def config() -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(config, SCHEMA)
    return config


def test_gpus_and_nodes_follow_the_train_and_evaluation_devices(config):
    assert resources.model_gpus(config, "large") == 8 * config["models"]["large"]["train"]["nodes"]
    config["models"]["large"]["train"]["nodes"] = 2
    assert (resources.model_gpus(config, "large"), resources.model_nodes(config, "large")) == (16, 2)
    assert resources.model_eval_gpus(config, "large") == 1  # scoring runs in one process
    config["models"]["tiny"]["train"]["device"] = "cpu"
    assert resources.model_gpus(config, "tiny") == resources.model_eval_gpus(config, "tiny") == 0
    config["evaluation"]["device"] = "cpu"
    assert resources.reference_gpus(config) == resources.model_eval_gpus(config, "large") == 0


def test_all_targets_are_each_targets_outputs_or_the_trained_tokenizers_shards(config):
    config["targets"] = ["tiny", "guppy"]
    found = targets.all_targets(config)
    for model in ("tiny", "guppy"):
        assert {f"results/{model}/ppl.json", f"results/{model}/export/quant.json"} <= set(found)
        assert {f"results/{model}/{page}" for page in targets.REPORT_PAGES} <= set(found)
    assert not any("downstream" in path for path in found)
    corpora = {config["models"][m]["corpus"] for m in ("tiny", "guppy")}
    assert {p for p in found if p.endswith("stats.html")} == {f"results/corpus/{c}/stats.html" for c in corpora}
    config["evaluation"]["downstream"] = {"tasks": ["hellaswag"]}
    assert "results/tiny/downstream.json" in targets.all_targets(config)
    config["targets"] = []
    shards = targets.all_targets(config)
    trained = {n: t for n, t in config["tokenizers"].items() if t.get("kind") != "pretrained"}
    assert shards == [f"results/shards/{t['corpus']}/{n}/meta.json" for n, t in trained.items()]


def test_inputs_name_every_part_of_a_corpus(config):
    corpus = config["models"]["tiny"]["corpus"]
    parts = minnow_config.corpus_parts(config, corpus)
    assert len(parts) >= 2  # one source's parts at least, another source's too
    shard = inputs.shard_input(config, corpus, "bpe4k")
    assert set(shard) == {"train_shards", "train_counts", "val_shards", "val_counts"}
    assert all(len(paths) == len(parts) for paths in shard.values())
    assert shard["val_counts"][0] == f"results/shards/{corpus}/bpe4k/val/{parts[0][0]}/part-{parts[0][1]}.json"
    dedup = inputs.dedup_input(config, corpus)
    assert [len(v) for v in dedup.values()] == [len(parts)] * 3
    assert inputs.tokenizer_input(config, "smollm2") == {}  # a pretrained tokenizer reads its checkpoint
    assert inputs.eval_set_input(config, f"val-{corpus}")["heldout"] == inputs.corpus_split(config, corpus, "heldout")
    other = next(iter(config["evaluation"]["eval_sets"]), None)
    assert other is None or inputs.eval_set_input(config, other) == {}


def test_perplexity_reads_each_eval_set_each_reference_and_a_fine_tunes_base(config):
    scratch, tune = inputs.perplexity_input(config, "tiny"), inputs.perplexity_input(config, "tiny-chat")
    sets = minnow_config.model_eval_sets(config, "tiny")
    assert scratch["documents"] == [f"results/eval/{s}.jsonl" for s in sets]
    assert len(scratch["references"]) == len(sets) * len(config["references"])
    assert scratch["init"] == [] and tune["init"] == ["results/tiny/model.safetensors"]
    assert inputs.init_weights(config, "smollm2-guppy") == ["results/smollm2-guppy/init/model.safetensors"]


def test_a_presets_stated_shape_and_vocab_rows(config):
    stated = minnow_config.stated_shape(config, "smollm2-guppy")
    assert set(stated) <= {"context"}  # the rest comes from the checkpoint
    assert minnow_config.stated_shape(config, "tiny")["d_model"] == config["models"]["tiny"]["d_model"]
    requested = config["tokenizers"]["bpe4k"]["vocab_size"]
    assert minnow_config.requested_vocab_rows(config, "tiny") == embedding_rows(requested)
    assert minnow_config.requested_vocab_rows(config, "smollm2-guppy") is None


def test_a_checkpoints_identity_changes_with_its_bytes_and_package_not_its_mtime(tmp_path):
    gguf, cache = tmp_path / "m.gguf", tmp_path / "digests.json"
    gguf.write_bytes(b"GGUF one")
    spec = {"gguf_path": str(gguf)}
    first = identity.checkpoint_identity(spec, cache)
    assert first["version"] is None and list(first["files"]) == [str(gguf)]
    os.utime(gguf, (1, 1))
    assert identity.checkpoint_identity(spec, cache) == first
    gguf.write_bytes(b"GGUF two")
    assert identity.checkpoint_identity(spec, cache) != first
    assert identity.checkpoint_identity(None, cache) is None
    packaged = {"gguf_package": "PyYAML", "gguf_file": "x.gguf"}
    assert identity.package_version(copy.deepcopy(packaged)) == importlib.metadata.version("PyYAML")
