"""Published chat templates of five model families (tests/chat_templates/, sources named there):
each lays out conversations exactly as transformers' apply_chat_template renders them, or is
refused at the tokenizer step, saying what minnow cannot follow."""

from pathlib import Path

import pytest

from minnow.errors import InputError
from minnow.tokens import chat_layout

TEMPLATES = Path(__file__).parent / "chat_templates"
FAMILIES = {  # tokenizer_config.json's special tokens, and the special tokens its vocabulary adds
    "llama3": (
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    ),
    "qwen2.5": (
        {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    ),
    "gemma2": (
        {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
        ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"],
    ),
    "phi3": (
        {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
        ["<s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
    ),
    "mistral": ({"bos_token": "<s>", "eos_token": "</s>"}, ["<s>", "</s>", "[INST]", "[/INST]"]),
}
SYSTEM = {"role": "system", "content": "You are a fish.\n"}
TALK = [
    {"role": "user", "content": "  hi guppy! what do you eat?\n"},
    {"role": "assistant", "content": "flakes, mostly. 小鱼 🐟"},
    {"role": "user", "content": "is the water warm?"},
    {"role": "assistant", "content": " yes.\n\n"},
]


def family(name: str, tmp_path: Path):
    """A byte-level BPE with the family's special tokens, trained on a little text (so that
    merges meet the template's pieces), and its tokenizer_config.json as a dict."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    config, specials = FAMILIES[name]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(
        [m["content"] for m in [SYSTEM, *TALK]] * 50 + ["system user assistant model"] * 50, trainer
    )
    tok.save(str(tmp_path / "tokenizer.json"))
    return tok, {**config, "chat_template": (TEMPLATES / f"{name}.jinja").read_text()}


def transformers_ids(tok, config: dict, tmp_path: Path, messages: list[dict], prompt: bool) -> list[int]:
    from transformers import PreTrainedTokenizerFast

    tokens = {k: v for k, v in config.items() if k.endswith("_token") and v is not None}
    hf = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"), **tokens)
    text = hf.apply_chat_template(
        messages, chat_template=config["chat_template"], tokenize=False, add_generation_prompt=prompt
    )
    return hf.encode(text, add_special_tokens=False)


def conversations(layout) -> list[list[dict]]:
    starts = [[SYSTEM], []] if "system" in layout.turns else [[]]
    return [start + TALK[:n] for start in starts for n in range(1, len(TALK) + 1)]


@pytest.mark.parametrize("name", ["llama3", "qwen2.5", "gemma2", "phi3"])
def test_a_published_template_lays_out_as_transformers_renders_it(name, tmp_path):
    tok, config = family(name, tmp_path)
    layout = chat_layout.of(tok, config, name)
    end = tok.token_to_id(config["eos_token"])
    for messages in conversations(layout):
        ours = layout.encode_chat(tok, messages)
        # a document: the conversation, then the document end (Phi-3's template writes it itself)
        theirs = transformers_ids(tok, config, tmp_path, messages, prompt=False)
        assert ours + [end] in (theirs, theirs + [end]), [m["role"] for m in messages]
        if messages[-1]["role"] == "user":  # a prompt: the conversation, then the answer's opening
            assert ours + list(layout.answer_prompt) == transformers_ids(tok, config, tmp_path, messages, True)
    assert layout.stops[0] == layout.turns["assistant"][1][0] and tok.id_to_token(layout.stops[0]) in FAMILIES[name][1]


def test_each_family_keeps_what_its_template_does():
    """What the layouts read off the templates, in words: Llama 3 and Gemma 2 trim content;
    Qwen opens a conversation without a system turn with its default system prompt, Llama 3
    with its date block; Gemma 2 has no system turn."""
    pieces = {
        name: chat_layout.template_pieces((TEMPLATES / f"{name}.jinja").read_text(), name, *FAMILIES[name])
        for name in ("llama3", "qwen2.5", "gemma2", "phi3")
    }
    assert {name: p["trim"] for name, p in pieces.items()} == {
        "llama3": True,
        "qwen2.5": False,
        "gemma2": True,
        "phi3": False,
    }
    assert pieces["qwen2.5"]["opening"].startswith("<|im_start|>system\nYou are Qwen")
    assert pieces["llama3"]["opening"].startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>")
    assert pieces["gemma2"]["opening"] == "<bos>" and "system" not in pieces["gemma2"]["turns"]
    assert pieces["phi3"]["suffix"] == "<|endoftext|>" and pieces["phi3"]["opening"] == ""


def test_a_system_turn_is_refused_where_the_template_has_none(tmp_path):
    tok, config = family("gemma2", tmp_path)
    layout = chat_layout.of(tok, config, "gemma2")
    with pytest.raises(InputError, match="a conversation has a system turn, and the chat template lays out none"):
        layout.encode_chat(tok, [SYSTEM, *TALK])


def test_mistrals_template_is_refused_saying_why(tmp_path):
    """Mistral's template has no system turn in place (it rides in the last user turn) and
    opens no assistant turn: an answer's start could not be found from the ids."""
    tok, config = family("mistral", tmp_path)
    with pytest.raises(InputError, match=r"mistral: the chat template opens each assistant turn with '', not a"):
        chat_layout.of(tok, config, "mistral")


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("{{ messages | length }}", "does not render each turn's content once, in order"),
        (
            "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}",
            r"closes each system turn with '\\n', not a special token",
        ),
        (
            "{% for m in messages %}{{ m['content'] }}<|end|>{% endfor %}",
            "opens each system turn with '', not a special token",
        ),
        (
            "{{ strftime_now('%d %b %Y') }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}",
            "reads today's date",
        ),
        (
            "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] | lower }}<|end|>{% endfor %}",
            "does not render each turn's content once",
        ),
    ],
    ids=["no-content", "newline-closing", "no-opening", "date", "changed-content"],
)
def test_a_template_minnow_cannot_follow_is_refused_naming_it(template, said):
    from minnow.tokens import tokenizer

    tok = tokenizer.char_tokenizer(list("abcdefghijklmnopqrstuvwxyzMINOWFRSTEHD \n"))
    with pytest.raises(InputError, match=f"x/tokenizer_config.json: .*{said}"):
        chat_layout.of(tok, tokenizer.hf_config() | {"chat_template": template}, "x/tokenizer_config.json")


def test_transformers_generation_blocks_lay_out_as_their_content():
    """`{% generation %}` marks answers for transformers' assistant masks; it renders its body."""
    from minnow.tokens import tokenizer

    tok = tokenizer.char_tokenizer(list("abcdefghijklmnopqrstuvwxyzMINOWFRSTEHD \n"))
    marked = tokenizer.CHAT_TEMPLATE.replace(
        "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>",
        "<|{{ message['role'] }}|>{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}",
    )
    assert marked != tokenizer.CHAT_TEMPLATE
    plain = chat_layout.of(tok, tokenizer.hf_config(), "plain")
    assert chat_layout.of(tok, tokenizer.hf_config() | {"chat_template": marked}, "marked") == plain
