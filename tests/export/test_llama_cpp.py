"""minnow's GGUF files run in llama.cpp itself (llama-cpp-python, built from source by
tools/install_llama_cpp.sh): every type loads, tokenizes as minnow does, computes
minnow's logits within each type's tolerance, continues prompts greedily as minnow
does, and chats through the template in its metadata."""

import json
import shutil

import pytest
import torch

from minnow import tokenizer
from minnow.chat import Assistant
from minnow.eval import llama_cpp_scoring
from minnow.export.gguf_writer import DTYPES, write_gguf
from minnow.generate import generate


def skip_reason() -> str | None:
    if llama_cpp_scoring.version() is not None:
        return None
    if not (shutil.which("cc") and shutil.which("c++")):
        return "llama-cpp-python cannot be built here: no C/C++ compiler"
    return "llama-cpp-python is not installed: run tools/install_llama_cpp.sh (make test does)"


pytestmark = [pytest.mark.slow, pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))]

PROMPTS = [
    "the tank is",
    "blub",
    "do you like",
    "the little fish",
    "blub blub",
    "the water",
    "hi guppy",
    "what do you eat",
]
# max |logit difference| relative to the largest |logit|, least cosine similarity, and the
# least share of next tokens llama.cpp picks as minnow does along minnow's greedy answers.
# Measured on the session's chat model: f32 2.7e-4 and f16 4.9e-4 (llama.cpp keeps its KV
# cache in f16), q8_0 1.3e-2, 5-bit ~6e-2, 4-bit ~0.1.
BOUNDS = {
    "f32": (1e-3, 0.99999, 0.98),
    "f16": (2e-3, 0.99999, 0.98),
    "q8_0": (4e-2, 0.9995, 0.95),
    "q5_1": (0.15, 0.995, 0.85),
    "q5_0": (0.15, 0.995, 0.85),
    "q4_1": (0.3, 0.99, 0.75),
    "q4_0": (0.3, 0.99, 0.75),
}


@pytest.fixture(scope="module")
def ggufs(model_folder, tmp_path_factory):
    """Every GGUF type of the session's trained chat model, loaded in llama.cpp."""
    out = tmp_path_factory.mktemp("gguf")
    context = Assistant.load(model_folder).model.cfg.context
    models = {}
    for dtype in DTYPES:
        write_gguf(model_folder, out / f"{dtype}.gguf", dtype)
        models[dtype] = llama_cpp_scoring.load(out / f"{dtype}.gguf", context, threads=2)
    yield models
    for llm in models.values():
        llm.close()


@pytest.fixture(scope="module")
def assistant(model_folder):
    return Assistant.load(model_folder)


def greedy(assistant, prompt: str) -> tuple[list[int], list[int]]:
    """minnow's prompt ids (EOS, then the prompt) and its greedy continuation's ids, ended
    where llama.cpp ends text: at any end-of-generation token, <|end|> as well as EOS."""
    ids = assistant.completion_ids(prompt, 40)
    new, _ = generate(assistant.model, ids, 40, temperature=0, stop_ids=assistant.layout.stops)
    return ids, new


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_llama_cpp_tokenizes_and_computes_minnows_logits(ggufs, assistant, dtype):
    llm = ggufs[dtype]
    rel, cos, agree = BOUNDS[dtype]
    same = total = 0
    for text in PROMPTS + ["小鱼在水里游泳 🐟 café\tand  spaces\n"]:
        assert (
            llm.tokenize(text.encode(), add_bos=False, special=False)
            == assistant.tok.encode(text, add_special_tokens=False).ids
        ), text
    for prompt in PROMPTS:
        ids, new = greedy(assistant, prompt)
        seq = torch.tensor([ids + new])
        got = llama_cpp_scoring.logits_fn(llm)(seq)[0]
        with torch.no_grad():
            ref = assistant.model(seq)[0][0]
        assert (got - ref).abs().max() <= rel * ref.abs().max(), prompt
        assert torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0) >= cos, prompt
        answer = slice(len(ids) - 1, len(ids) + len(new) - 1)  # positions that predict the answer
        same += (got[answer].argmax(-1) == ref[answer].argmax(-1)).sum().item()
        total += len(new)
    assert same / total >= agree


def decided(assistant, ids: list[int], new: list[int], rel: float) -> bool:
    """Whether minnow's greedy answer wins every step by more than twice the type's logit
    error: no engine within that error can then pick another token. (The chat model is
    trained in bf16 or fp32 as the CPU allows, so its near-ties differ between machines.)"""
    with torch.no_grad():
        logits = assistant.model(torch.tensor([ids + new]))[0][0][len(ids) - 1 :]
    top2 = logits.topk(2, dim=-1).values
    return bool(((top2[:, 0] - top2[:, 1]) > 2 * rel * logits.abs().max()).all())


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_greedy_continuations_equal_minnows(ggufs, assistant, dtype):
    compared = 0
    for prompt in PROMPTS:
        ids, new = greedy(assistant, prompt)
        assert len(new) >= 5, prompt  # an answer long enough to mean something
        if not decided(assistant, ids, new, BOUNDS[dtype][0]):
            continue
        theirs = ggufs[dtype].create_completion(ids, max_tokens=40, temperature=0, repeat_penalty=1.0)
        assert theirs["choices"][0]["text"] == assistant.tok.decode(new), prompt
        compared += 1
    assert compared >= 3


def test_chat_template_in_the_metadata_renders_minnows_prompt(ggufs, assistant, model_folder):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from transformers import AutoTokenizer

    llm = ggufs["f16"]
    hf = AutoTokenizer.from_pretrained(model_folder)  # the folder's tokenizer_config.json, as transformers reads it
    template = llm.metadata["tokenizer.chat_template"]
    assert template == tokenizer.hf_config()["chat_template"]
    conversations = [
        [{"role": "user", "content": "hi guppy!"}],
        [
            {"role": "system", "content": "you are a fish"},
            {"role": "user", "content": "what do you eat?"},
            {"role": "assistant", "content": "flakes."},
            {"role": "user", "content": "is the water warm?"},
        ],
    ]
    for messages in conversations:
        prompt = Jinja2ChatFormatter(template, eos_token="<|eos|>", bos_token="<|bos|>")(messages=messages).prompt
        assert prompt == hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == assistant.prompt_ids(messages)
        ours = assistant.chat(messages, max_tokens=40, temperature=0, repetition_penalty=1.0)
        theirs = llm.create_chat_completion(messages, max_tokens=40, temperature=0, repeat_penalty=1.0)
        assert theirs["choices"][0]["message"]["content"] == ours["choices"][0]["message"]["content"]
        assert theirs["choices"][0]["finish_reason"] == "stop" == ours["choices"][0]["finish_reason"]


def test_llama_cpp_bits_per_byte_match_minnows_on_the_same_windows(model_folder, tmp_path):
    from minnow.eval.scoring import score_folder

    text = tmp_path / "val.jsonl"
    docs = ["the little fish swims past the castle.\n" * 20, "blub! i am a small fish and i like flakes.", "hi!"]
    text.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    windows = {"stride_fraction": 0.5, "batch_tokens": 256}  # several documents and windows per batch
    ours = score_folder(model_folder, {"val": text}, windows)["val"]
    write_gguf(model_folder, tmp_path / "f32.gguf", "f32")
    tok = tokenizer.load(model_folder / "tokenizer.json")
    start = tokenizer.special_id(tok, "eos")
    theirs = llama_cpp_scoring.score_gguf(tmp_path / "f32.gguf", tok, start, text, ours["context"], windows, threads=2)
    assert theirs["engine"] == f"llama-cpp-python {llama_cpp_scoring.version()}"
    assert theirs["bits_per_byte"] == pytest.approx(ours["bits_per_byte"], abs=1e-3)


def test_on_amx_cpus_the_extra_buffers_are_off_and_the_model_still_computes(model_folder, tmp_path, monkeypatch):
    import llama_cpp.llama_cpp as lib

    write_gguf(model_folder, tmp_path / "q4_0.gguf", "q4_0")
    ids = torch.tensor([[0, *range(5, 40)]])
    normal = llama_cpp_scoring.load(tmp_path / "q4_0.gguf", 64, threads=2)
    expected = llama_cpp_scoring.logits_fn(normal)(ids)
    normal.close()
    default = lib.llama_model_default_params
    monkeypatch.setattr(llama_cpp_scoring, "cpu_flags", lambda: {"avx512f", "amx_tile", "amx_int8"})
    with llama_cpp_scoring._without_extra_buffers():
        assert lib.llama_model_default_params().use_extra_bufts is False
    assert lib.llama_model_default_params is default and default().use_extra_bufts is True
    plain = llama_cpp_scoring.load(tmp_path / "q4_0.gguf", 64, threads=2)
    got = llama_cpp_scoring.logits_fn(plain)(ids)
    plain.close()
    assert (got - expected).abs().max() <= 1e-2 * expected.abs().max()  # other kernels, the same model


def test_a_file_llama_cpp_refuses_is_named(model_folder, tmp_path):
    from minnow.errors import InputError

    write_gguf(model_folder, tmp_path / "f16.gguf", "f16")
    data = (tmp_path / "f16.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=f"{tmp_path / 'cut.gguf'}: llama.cpp could not load this GGUF file"):
        llama_cpp_scoring.load(tmp_path / "cut.gguf", 64)
