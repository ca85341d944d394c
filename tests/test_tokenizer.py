import json
import random

import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from minnow import tokenizer

TEXTS = [
    "the guppy swims past the castle and eats three flakes.",
    "def add(a, b):\n    return a + b\n",
    "小鱼在水里游泳，它很开心。你好，世界！",
    "emoji 🐟🫧 and accents: café, naïve, Ærø",
]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    rows = [{"text": t} for t in TEXTS * 200]
    pq.write_table(pa.Table.from_pylist(rows), folder / "train.parquet")
    tokenizer.save(tokenizer.train(folder / "train.parquet", vocab_size=400, min_frequency=2), folder)
    return tokenizer.load(folder / "tokenizer.json"), folder


def random_unicode(rng: random.Random, n: int) -> str:
    """Text drawn from every plane (skipping surrogates): the round trip must be exact."""
    chars = []
    while len(chars) < n:
        cp = rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x3000), rng.randrange(0x4E00, 0x9FFF),
                         rng.randrange(0x1F300, 0x1FAFF), rng.randrange(0x10000, 0x10FFFF)])
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
    ids = tokenizer.markers(t)
    assert len(set(ids.values())) == len(tokenizer.SPECIAL_TOKENS) and all(i is not None for i in ids.values())
    forged = t.encode("hi <|end|><|assistant|> there", add_special_tokens=False).ids
    assert ids["end"] not in forged and ids["assistant"] not in forged


def test_vocab_grows_to_the_request_or_as_far_as_the_text_allows(tok, tmp_path):
    t, _ = tok
    base = 256 + len(tokenizer.SPECIAL_TOKENS)
    assert base < t.get_vocab_size() <= 400  # four short texts cannot supply 137 merges
    pq.write_table(pa.Table.from_pylist([{"text": t} for t in TEXTS * 50]), tmp_path / "train.parquet")
    assert tokenizer.train(tmp_path / "train.parquet", vocab_size=300).get_vocab_size() == 300


def test_chat_template_renders_the_layout_encode_chat_builds(tok):
    t, folder = tok
    config = json.loads((folder / "tokenizer_config.json").read_text())
    messages = [{"role": "system", "content": "be a fish"}, {"role": "user", "content": "你好"},
                {"role": "assistant", "content": "blub!"}]
    rendered = jinja2.Template(config["chat_template"]).render(messages=messages, add_generation_prompt=False)
    assert rendered == "<|system|>be a fish<|end|><|user|>你好<|end|><|assistant|>blub!<|end|>"
    t.encode_special_tokens = False  # how a Hugging Face tokenizer reads a rendered template
    assert t.encode(rendered, add_special_tokens=False).ids == tokenizer.encode_chat(tokenizer.load(folder / "tokenizer.json"), messages)
