"""How documents and conversations become token ids: the one place that defines it.

A document is its text followed by the document-end token, so every document
(and every prompt) starts after one. A conversation is its turns, each laid out
as `before + content + after`, where `before` and `after` are the ids the
tokenizer's chat template puts around a turn of that role. minnow's own
tokenizers give one-token markers (`<|user|>` ... `<|end|>`); a pretrained one
keeps its own template (SmolLM2's ChatML: `<|im_start|>user\\n` ... `<|im_end|>\\n`).

The pieces are found by rendering the template itself with placeholder
contents, so shards, answer masks, chat prompts and the exported tokenizers
(which carry the same template) agree for any template that lays turns out one
after another. What the template adds around a whole conversation (SmolLM2's
default system prompt when none is given) is not part of a turn and is left out.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minnow.errors import InputError

ROLES = ("system", "user", "assistant")
# placeholder contents: plain words, so a template that trims or escapes content leaves them whole
FIRST, SECOND = "MINNOWFIRSTCONTENT", "MINNOWSECONDCONTENT"


@dataclass(frozen=True)
class Layout:
    document_end: int  # follows every document; a prompt starts after one
    turns: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]  # role -> (before, after)
    answer_prompt: tuple[int, ...]  # what opens the assistant's answer
    special: dict[str, int | None]  # bos, eos and pad ids, for the exported configs

    @property
    def stops(self) -> tuple[int, ...]:
        """Tokens that end an answer: the assistant turn's closing token, and a document's end."""
        return tuple(dict.fromkeys((self.turns["assistant"][1][0], self.document_end)))

    def segments(self, text: str, messages: list[dict] | None) -> list[tuple[list[int], str, list[int]]]:
        """A document as (ids before, text to encode, ids after) pieces."""
        if not messages:
            return [([], text, [])]
        return [(list(self.turns[t["role"]][0]), t["content"], list(self.turns[t["role"]][1])) for t in messages]

    def encode_chat(self, tok, messages: list[dict]) -> list[int]:
        """Token ids of a conversation, turn by turn."""
        ids = []
        for before, text, after in self.segments("", messages):
            ids += before + tok.encode(text, add_special_tokens=False).ids + after
        return ids

    def answer_mask(self, window: np.ndarray) -> np.ndarray:
        """Which targets (window[:, 1:]) are assistant answers, from the ids alone.

        A target is an answer when the last turn opening at or before its input is the
        assistant's and no closing token came since; the closing token itself counts (the
        model must learn to stop). Targets before the window's first opening or closing
        are of unknown role and excluded."""
        event = np.full(window.shape, -1)  # at each position: -1 nothing, 0 a closing, 1+ a role's opening ends
        opens = np.zeros(window.shape, dtype=bool)  # where an opening sequence begins
        for code, role in enumerate(ROLES, 1):
            starts = _matches(window, self.turns[role][0])
            opens[:, : starts.shape[1]] |= starts
            event[:, len(self.turns[role][0]) - 1 :][starts] = code
        closing = np.isin(window, [self.turns[r][1][0] for r in ROLES] + [self.document_end])
        event[closing] = 0
        positions = np.where(event >= 0, np.arange(window.shape[1]), -1)
        last = np.maximum.accumulate(positions, axis=1)
        last_event = np.where(last >= 0, np.take_along_axis(event, np.maximum(last, 0), axis=1), -1)
        starts_turn = opens[:, 1:] | (window[:, 1:] == self.document_end)
        return (last_event[:, :-1] == 1 + ROLES.index("assistant")) & ~starts_turn


def _matches(window: np.ndarray, sequence: tuple[int, ...]) -> np.ndarray:
    """Where `sequence` begins in each row (a row's last len-1 positions cannot begin one)."""
    width = window.shape[1] - len(sequence) + 1
    found = np.ones((window.shape[0], max(width, 0)), dtype=bool)
    for k, token in enumerate(sequence):
        found &= window[:, k : k + width] == token
    return found


def read(tok, tokenizer_json: str | Path) -> Layout:
    """The layout of the tokenizer `tok`, from the tokenizer_config.json beside its tokenizer.json."""
    from minnow.tokenizer import read_hf_config

    config = read_hf_config(Path(tokenizer_json).parent)
    return of(tok, config, str(Path(tokenizer_json).parent / "tokenizer_config.json"))


def of(tok, config: dict, where: str) -> Layout:
    """The layout a tokenizer_config.json (`config`, read from `where`) gives `tok`."""
    document_end = config.get("minnow_document_end") or config.get("eos_token")
    ids = {name: _token_id(tok, config.get(f"{name}_token"), where, name) for name in ("bos", "eos", "pad")}
    if not document_end:
        raise InputError(f"{where}: no eos_token to end documents with")
    pieces = template_pieces(config.get("chat_template"), where)
    return Layout(
        document_end=_token_id(tok, document_end, where, "minnow_document_end"),
        turns={role: (_encode(tok, before), _encode(tok, after)) for role, (before, after) in pieces["turns"].items()},
        answer_prompt=_encode(tok, pieces["answer_prompt"]),
        special=ids,
    )


def _token_id(tok, token, where: str, key: str) -> int | None:
    if isinstance(token, dict):  # an AddedToken, as transformers writes some configs
        token = token.get("content")
    if token is None:
        return None
    found = tok.token_to_id(token)
    if found is None:
        raise InputError(f"{where}: {key} {token!r} is not a token of the tokenizer")
    return found


def _encode(tok, text: str) -> tuple[int, ...]:
    """Template text as ids, its special-token strings read as special tokens (content never is)."""
    matching = tok.encode_special_tokens
    tok.encode_special_tokens = False
    try:
        return tuple(tok.encode(text, add_special_tokens=False).ids)
    finally:
        tok.encode_special_tokens = matching


def template_pieces(template: str | None, where: str) -> dict:
    """The text a Jinja chat template puts before and after a turn of each role, and what
    it adds to open the answer, found by rendering it around placeholder contents."""
    if not template:
        raise InputError(f"{where}: no chat_template to lay out conversations with")
    render = _renderer(template, where)
    system = render([{"role": "system", "content": FIRST}]).split(FIRST)
    if len(system) != 2:
        raise InputError(f"{where}: the chat template does not render a system turn's content once")
    turns, system_after = {"system": (system[0], system[1])}, system[1]
    for role in ("user", "assistant"):
        text = render([{"role": "system", "content": FIRST}, {"role": role, "content": SECOND}])
        between, after = text.split(FIRST, 1)[1].split(SECOND, 1)
        if not between.startswith(system_after):
            raise InputError(f"{where}: the chat template does not lay out a {role} turn after a system turn")
        turns[role] = (between[len(system_after) :], after)
    plain = render([{"role": "system", "content": FIRST}])
    prompted = render([{"role": "system", "content": FIRST}], add_generation_prompt=True)
    if not prompted.startswith(plain):
        raise InputError(f"{where}: the chat template's generation prompt does not follow the conversation")
    if not turns["assistant"][1]:
        raise InputError(f"{where}: the chat template closes no assistant turn (nothing tells an answer to stop)")
    return {"turns": turns, "answer_prompt": prompted[len(plain) :]}


def _renderer(template: str, where: str):
    """Render the template as transformers does (sandboxed, trimmed blocks)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        compiled = env.from_string(template)
    except TemplateError as e:
        raise InputError(f"{where}: the chat template does not parse ({e})") from None

    def render(messages, add_generation_prompt=False):
        try:
            return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt)
        except TemplateError as e:
            raise InputError(f"{where}: the chat template fails on a {messages[-1]['role']} turn ({e})") from None

    return render
