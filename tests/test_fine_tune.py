"""A pretrain -> SFT chain through Snakemake: the fine-tune starts from its base, is scored beside
it on the same documents, and reruns with its own data alone or with its base's."""

import copy
import json

import pytest

from conftest import copy_workflow, planned_rules, small_config, snakemake, write_config

SHAPE = {"d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_dim": 128, "context": 64}
TRAIN = {"steps": 40, "batch_size": 8, "warmup_steps": 5, "eval_every": 20, "eval_batches": 4, "device": "cpu"}


def chain_config() -> dict:
    """A base pretrained on the Python docs, fine-tuned on the guppy chats with loss on answers."""
    config = small_config()
    config["corpora"] = {
        "docs": {"sources": {"pydocs": {"weight": 1.0}}, "val_fraction": 0.05},
        "chat": {"sources": {"guppy": {"weight": 1.0, "lowercase": True}}, "val_fraction": 0.05},
    }
    config["tokenizers"] = {"bpe512": {"corpus": "docs", "vocab_size": 512}}
    config["models"] = {
        "base": {"corpus": "docs", "tokenizer": "bpe512", **SHAPE, "train": {**TRAIN, "lr": 3e-3}},
        "sft": {
            "init": {"model": "base"},
            "corpus": "chat",
            "tokenizer": "bpe512",
            "train": {**TRAIN, "lr": 1e-3, "loss_on": "answers", "freeze_embeddings": True},
        },
    }
    config["references"] = {}
    config["samples"] = {"prompts": ["the fish"], "chat": ["what do you eat?"], "max_tokens": 8}
    return config


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = copy_workflow(tmp_path_factory.mktemp("chain") / "workflow")
    write_config(folder, chain_config())
    snakemake(folder, "results/sft/ppl.json", "results/sft/samples.md")
    return folder


@pytest.mark.slow
def test_the_fine_tune_is_scored_beside_its_base_and_answers_beside_it(chain):
    ppl = json.loads((chain / "results/sft/ppl.json").read_text())
    val = ppl["eval_sets"]["val-chat"]
    base = val["references"]["init-base"]
    assert base["init_model"] and base["documents"] == val["model"]["documents"]
    assert val["model"]["bits_per_byte"] < base["bits_per_byte"]  # the chats were the fine-tune's data, not the base's
    assert [r["model"] for r in val["ranking_bits_per_byte"]] == ["sft", "init-base"]
    page = (chain / "results/sft/samples.md").read_text()
    assert "# Samples from `sft` and its init model `base`" in page and "**base:**" in page
    summary = json.loads((chain / "results/sft/train_summary.json").read_text())
    assert (
        summary["history"]["train"][0][1]
        < json.loads((chain / "results/base/train_summary.json").read_text())["history"]["train"][0][1]
    )


@pytest.mark.slow
def test_new_chat_data_retrains_the_fine_tune_alone_and_new_base_data_both(chain):
    targets = ("results/sft/ppl.json", "results/sft/samples.md")
    assert planned_rules(chain, *targets) == {}
    config = chain_config()
    chat_changed = copy.deepcopy(config)
    chat_changed["sources"]["guppy"]["count"] = 1400
    write_config(chain, chat_changed)
    assert planned_rules(chain, *targets)["train"] == 1
    docs_changed = copy.deepcopy(config)
    docs_changed["sources"]["pydocs"]["max_documents"] = 50
    write_config(chain, docs_changed)
    assert planned_rules(chain, *targets)["train"] == 2
    write_config(chain, config)
