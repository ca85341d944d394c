"""minnow's GGUF files run in llama.cpp itself (llama-cpp-python, built from source by
tools/install_llama_cpp.sh): every type loads, tokenizes as minnow does, computes
minnow's logits within each type's tolerance, continues prompts greedily as minnow
does, and chats through the template in its metadata."""

import json
import shutil

import pytest
import torch

from minnow.eval import llama_cpp_scoring
from minnow.export.gguf_writer import DTYPES, write_gguf
from minnow.inference.chat import Assistant
from minnow.inference.generate import generate
from minnow.tokens import tokenizer

from conftest import special_ids
from greedy import decided_steps, forced_greedy, llama_cpp_greedy


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
ANSWER = 24  # tokens each prompt is continued by, the end tokens banned: the same length on any machine
# Per type: max |logit difference| relative to the largest |logit| and least cosine similarity over the
# prompts and their continuations, then the least share of the 8 x 24 next tokens llama.cpp picks as
# minnow does. Measured on the session's chat model trained in fp32 and in bf16 (a stand-in for
# another CPU; AMD Zen 4): f32 2.5e-4 / 2.7e-4, f16 5.1e-4 / 6.3e-4 (llama.cpp keeps its KV cache in
# f16), q8_0 1.3e-2 / 1.2e-2, 5-bit <= 6.0e-2, 4-bit <= 8.7e-2; shares f32 1.0 / 1.0, f16 1.0 / 0.995,
# q8_0 1.0 / 0.974, 5-bit >= 0.964, 4-bit >= 0.948.
BOUNDS = {
    "f32": (1e-3, 0.99999, 0.97),
    "f16": (2e-3, 0.99999, 0.97),
    "q8_0": (4e-2, 0.9995, 0.93),
    "q5_1": (0.15, 0.995, 0.85),
    "q5_0": (0.15, 0.995, 0.85),
    "q4_1": (0.3, 0.99, 0.75),
    "q4_0": (0.3, 0.99, 0.75),
}
# Steps of the 8 x 24 that win by more than twice the type's logit error, compared with llama.cpp's:
# measured f32 145 / 140, f16 127 / 117 (fp32 / bf16 training); none of them differed.
COMPARED_AT_LEAST = 60


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


@pytest.fixture(scope="module")
def continued(assistant) -> list[tuple[list[int], list[int]]]:
    """Each prompt's ids (EOS, then the prompt) and minnow's greedy continuation of ANSWER tokens."""
    stops = assistant.layout.stops
    return [(ids, forced_greedy(assistant.model, ids, ANSWER, stops)) for ids in map(assistant.completion_ids, PROMPTS)]


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_llama_cpp_tokenizes_and_computes_minnows_logits(ggufs, assistant, continued, dtype):
    llm = ggufs[dtype]
    rel, cos, agree = BOUNDS[dtype]
    same = 0
    for text in PROMPTS + ["小鱼在水里游泳 🐟 café\tand  spaces\n"]:
        assert (
            llm.tokenize(text.encode(), add_bos=False, special=False)
            == assistant.tok.encode(text, add_special_tokens=False).ids
        ), text
    for ids, new in continued:
        seq = torch.tensor([ids + new])
        got = llama_cpp_scoring.logits_fn(llm)(seq)[0]
        with torch.no_grad():
            ref = assistant.model(seq)[0][0]
        assert (got - ref).abs().max() <= rel * ref.abs().max(), ids
        assert torch.nn.functional.cosine_similarity(got.flatten(), ref.flatten(), dim=0) >= cos, ids
        answer = slice(len(ids) - 1, len(ids) + len(new) - 1)  # positions that predict the continuation
        same += (got[answer].argmax(-1) == ref[answer].argmax(-1)).sum().item()
    assert same / (len(PROMPTS) * ANSWER) >= agree


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_greedy_continuations_equal_minnows_as_far_as_they_are_decided(ggufs, assistant, continued, dtype):
    """Each continuation is compared over its decided steps: llama.cpp, within the type's logit
    error of minnow, must pick the same tokens there; a near-tie later ends the comparison."""
    stops, compared = assistant.layout.stops, 0
    for ids, new in continued:
        steps = decided_steps(assistant.model, ids, new, BOUNDS[dtype][0], stops)
        if steps:
            assert llama_cpp_greedy(ggufs[dtype], ids, steps, stops) == assistant.tok.decode(new[:steps]), ids
        compared += steps
    assert compared >= COMPARED_AT_LEAST  # of 8 x 24 steps


def test_chat_template_in_the_metadata_renders_minnows_prompt(ggufs, assistant, model_folder):
    import llama_cpp
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
        ids = assistant.prompt_ids(messages)
        assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == ids
        new, _ = generate(assistant.model, ids, 40, temperature=0, stop_ids=assistant.layout.stops)
        steps = decided_steps(assistant.model, ids, new, BOUNDS["f16"][0], ())
        if steps:  # as far as minnow's greedy answer is decided, llama.cpp's chat gives it too
            theirs = llm.create_chat_completion(messages, max_tokens=steps, temperature=0, repeat_penalty=1.0)
            assert theirs["choices"][0]["message"]["content"] == assistant.tok.decode(new[:steps])
    # an answer ends in llama.cpp where it ends in minnow: at the turn's closing token or a document's end
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    eog = [token for token in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, token)]
    assert sorted(eog) == sorted(assistant.layout.stops)


def test_llama_cpp_bits_per_byte_match_minnows_on_the_same_windows(model_folder, tmp_path):
    from minnow.eval.scoring import score_folder

    text = tmp_path / "val.jsonl"
    docs = ["the little fish swims past the castle.\n" * 20, "blub! i am a small fish and i like flakes.", "hi!"]
    text.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    windows = {"stride_fraction": 0.5, "batch_tokens": 256}  # several documents and windows per batch
    ours = score_folder(model_folder, {"val": text}, windows)["val"]
    write_gguf(model_folder, tmp_path / "f32.gguf", "f32")
    tok = tokenizer.load(model_folder / "tokenizer.json")
    start = special_ids(tok)["eos"]
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
