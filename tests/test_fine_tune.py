"""A pretrain -> SFT chain through Snakemake: the fine-tune starts from its base, is scored beside
it on the same documents, and reruns with its own data alone or with its base's. A third model
starts from a Hugging Face checkpoint (`init: {hf: <folder>}`) with that checkpoint's tokenizer."""

import copy
import json

import pytest

from conftest import copy_workflow, planned_rules, small_config, snakemake, write_config
from hf_checkpoints import llama_folder

SHAPE = {"d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_dim": 128, "context": 64}
TRAIN = {"steps": 40, "batch_size": 8, "warmup_steps": 5, "eval_every": 20, "eval_batches": 4, "device": "cpu"}


def chain_config(hf_folder) -> dict:
    """A base pretrained on the Python docs, fine-tuned on the guppy chats with loss on answers;
    and the checkpoint in `hf_folder` fine-tuned on the same chats."""
    config = small_config()
    config["corpora"] = {
        "docs": {"sources": {"pydocs": {"weight": 1.0}}, "val_fraction": 0.05},
        "chat": {"sources": {"guppy": {"weight": 1.0, "lowercase": True}}, "val_fraction": 0.05},
    }
    hf = {"hf": str(hf_folder), "revision": None}
    config["tokenizers"] = {
        "bpe512": {"corpus": "docs", "vocab_size": 512},
        "hf-char": {"kind": "pretrained", "from": hf},
    }
    config["models"] = {
        "base": {"corpus": "docs", "tokenizer": "bpe512", **SHAPE, "train": {**TRAIN, "lr": 3e-3}},
        "sft": {
            "init": {"model": "base"},
            "corpus": "chat",
            "tokenizer": "bpe512",
            "train": {**TRAIN, "lr": 1e-3, "loss_on": "answers", "freeze_embeddings": True},
        },
        "from-hf": {"init": hf, "corpus": "chat", "tokenizer": "hf-char", "context": 64, "train": TRAIN | {"lr": 3e-3}},
    }
    config["references"] = {}
    config["samples"] = {"prompts": ["the fish"], "chat": ["what do you eat?"], "max_tokens": 8}
    return config


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    return llama_folder(tmp_path_factory.mktemp("hub") / "random-llama")


@pytest.fixture(scope="module")
def chain(tmp_path_factory, hf_folder):
    folder = copy_workflow(tmp_path_factory.mktemp("chain") / "workflow")
    write_config(folder, chain_config(hf_folder))
    snakemake(folder, "results/sft/ppl.json", "results/sft/samples.md", "results/from-hf/ppl.json")
    return folder


@pytest.mark.slow
def test_the_fine_tune_is_scored_beside_its_base_and_answers_beside_it(chain):
    ppl = json.loads((chain / "results/sft/ppl.json").read_text())
    val = ppl["eval_sets"]["val-chat"]
    base = val["references"]["init-base"]
    assert base["init_model"] and base["documents"] == val["model"]["documents"]
    # the chats were the fine-tune's data, not the base's: measured, fine-tune against base, 4.399
    # against 4.464 with both trained in bf16 and 4.399 against 4.457 in fp32 (AMD Zen 4)
    assert val["model"]["bits_per_byte"] < base["bits_per_byte"] - 0.02
    assert [r["model"] for r in val["ranking_bits_per_byte"]] == ["sft", "init-base"]
    page = (chain / "results/sft/samples.md").read_text()
    assert "# Samples from `sft` and its init model `base`" in page and "**base:**" in page


@pytest.mark.slow
def test_new_chat_data_retrains_the_fine_tune_alone_and_new_base_data_both(chain, hf_folder):
    targets = ("results/sft/ppl.json", "results/sft/samples.md")
    assert planned_rules(chain, *targets) == {}
    config = chain_config(hf_folder)
    chat_changed = copy.deepcopy(config)
    chat_changed["sources"]["guppy"]["count"] = 1400
    write_config(chain, chat_changed)
    assert planned_rules(chain, *targets)["train"] == 1
    docs_changed = copy.deepcopy(config)
    docs_changed["sources"]["pydocs"]["max_documents"] = 50
    write_config(chain, docs_changed)
    assert planned_rules(chain, *targets)["train"] == 2
    write_config(chain, config)


@pytest.mark.slow
def test_a_model_starts_from_a_hugging_face_checkpoint_and_beats_it(chain, hf_folder):
    """The checkpoint is imported as results/from-hf/init (its architecture, its tokenizer),
    trained from, scored beside, and reimported when its files change."""
    init = json.loads((chain / "results/from-hf/init/config.json").read_text())
    assert (init["hidden_size"], init["num_hidden_layers"], init["minnow_data"]["name"]) == (64, 2, "random-llama")
    tuned = json.loads((chain / "results/from-hf/config.json").read_text())
    assert (tuned["hidden_size"], tuned["max_position_embeddings"]) == (64, 64)  # its shape, the preset's window
    val = json.loads((chain / "results/from-hf/ppl.json").read_text())["eval_sets"]["val-chat"]
    base = val["references"]["init-random-llama"]
    assert base["init_model"] and base["context"] == 64
    assert val["model"]["bits_per_byte"] < base["bits_per_byte"] - 1  # a random start (8.32), 40 steps: 4.50
    assert planned_rules(chain, "results/from-hf/ppl.json") == {}
    llama_folder(hf_folder, seed=1)  # the hub folder's weights change
    assert {"import_init", "train", "perplexity"} <= set(planned_rules(chain, "results/from-hf/ppl.json"))
    llama_folder(hf_folder, seed=0)


@pytest.mark.slow
def test_a_checkpoint_that_is_not_there_stops_the_run_naming_it(chain, hf_folder, tmp_path):
    config = chain_config(hf_folder)
    gone = {"hf": str(tmp_path / "nowhere"), "revision": None}
    config["tokenizers"]["gone-char"] = {"kind": "pretrained", "from": gone}
    config["models"]["from-gone"] = {**config["models"]["from-hf"], "init": gone, "tokenizer": "gone-char"}
    write_config(chain, config)
    proc = snakemake(chain, "results/from-gone/ppl.json", check=False)
    write_config(chain, chain_config(hf_folder))
    assert proc.returncode != 0
    assert f"{tmp_path / 'nowhere'}: the checkpoint's tokenizer cannot be loaded" in proc.stdout + proc.stderr
    written = [*(chain / "results/tokenizers").glob("gone-char/*"), *(chain / "results").glob("from-gone/**/*.*")]
    assert written == []  # nothing half-made is left to look finished
