"""How documents and conversations become token ids: the one place that defines it.

A document is its text followed by the document-end token, so every document
(and every prompt) starts after one. A conversation is its turns, each laid out
as `before + content + after`, where `before` and `after` are the ids the
tokenizer's chat template puts around a turn of that role, after what the
template opens every conversation with when it has no system turn (BOS, or a
default system prompt, as SmolLM2's and Qwen's do). minnow's own tokenizers give
one-token markers (`<|user|>` ... `<|end|>`); a pretrained one keeps its own
template (SmolLM2's ChatML: `<|im_start|>user\\n` ... `<|im_end|>\\n`).

The pieces are found by rendering the template itself, as transformers'
`apply_chat_template` renders it (the tokenizer's special tokens passed in), around
placeholder contents, and the layout is then checked to give exactly what the
template renders for conversations with and without a system turn, of one to
four turns, with and without the generation prompt. So shards, answer masks,
chat prompts and the exported tokenizers (which carry the same template) agree
with transformers. A template minnow cannot follow is refused, saying what it
does: one that opens or closes a turn with no special token (then text could
forge a turn's end, and an answer's start could not be found from the ids: so
Mistral's, which opens no answer), that lays the same role out differently by
its place, or that reads today's date. One with no system turn in place (Gemma's
refuses one, Mistral's moves it into the last user turn) lays out conversations
without one, and refuses one with a system turn when its documents are sharded.
The checks cover a system turn at a conversation's start and turns with some
content: a later system turn, or an empty one a template drops (Phi-3's), are
laid out turn by turn all the same.
"""

from dataclasses import dataclass, field
from os.path import commonprefix
from pathlib import Path

import numpy as np

from minnow.errors import InputError, read_json
from minnow.tokens import tokenizer

ROLES = ("system", "user", "assistant")
# placeholder contents: plain words, so a template that trims or escapes content leaves them whole
WORDS = ("MINNOWFIRST", "MINNOWSECOND", "MINNOWTHIRD", "MINNOWFOURTH", "MINNOWFIFTH")
TALK = ("user", "assistant", "user", "assistant")  # the turns after an optional system turn


@dataclass(frozen=True)
class Layout:
    document_end: int  # follows every document; a prompt starts after one
    # role -> (the ids that open a turn whatever its content, which the answer masks look for;
    # the ids that close it)
    turns: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]
    answer_prompt: tuple[int, ...]  # what opens the assistant's answer
    special: dict[str, int | None]  # bos, eos and pad ids, for the exported configs
    opening: tuple[int, ...] = ()  # what a conversation that does not start with a system turn starts with
    trim: bool = False  # the template strips the whitespace around each turn's content
    # role -> what opens a turn as written: ids up to the template's last special token, then its text
    # after it, encoded with the content as transformers encodes the rendered conversation (default:
    # the opening ids of `turns`, no text)
    heads: dict[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)

    @property
    def stops(self) -> tuple[int, ...]:
        """Tokens that end an answer: the assistant turn's closing token, and a document's end."""
        return tuple(dict.fromkeys((self.turns["assistant"][1][0], self.document_end)))

    def segments(self, text: str, messages: list[dict] | None) -> list[tuple[list[int], str, list[int]]]:
        """A document as (ids before, text to encode, ids after) pieces."""
        if not messages:
            return [([], text, [])]
        return [([*self.opening_of(messages)], "", []), *map(self.turn, messages)]

    def opening_of(self, messages: list[dict]) -> tuple[int, ...]:
        """What the conversation starts with before its first turn (nothing before a system turn)."""
        return () if messages[0]["role"] == "system" else self.opening

    def turn(self, message: dict) -> tuple[list[int], str, list[int]]:
        """One turn as (ids before, text to encode, ids after)."""
        if message["role"] not in self.turns:
            raise InputError(f"a conversation has a {message['role']} turn, and the chat template lays out none")
        head, lead = self.heads.get(message["role"], (self.turns[message["role"]][0], ""))
        content = message["content"].strip() if self.trim else message["content"]
        return list(head), lead + content, list(self.turns[message["role"]][1])

    def encode_turn(self, tok, message: dict) -> list[int]:
        before, text, after = self.turn(message)
        return before + tok.encode(text, add_special_tokens=False).ids + after

    def encode_chat(self, tok, messages: list[dict]) -> list[int]:
        """Token ids of a conversation, turn by turn."""
        return [*self.opening_of(messages), *(i for message in messages for i in self.encode_turn(tok, message))]

    def answer_mask(self, window: np.ndarray) -> np.ndarray:
        """Which targets (window[:, 1:]) are assistant answers, from the ids alone.

        A target is an answer when the last turn opening at or before its input is the
        assistant's and no closing token came since; the closing token itself counts (the
        model must learn to stop). Targets before the window's first opening or closing
        are of unknown role and excluded."""
        event = np.full(window.shape, -1)  # at each position: -1 nothing, 0 a closing, 1+ a role's opening ends
        opens = np.zeros(window.shape, dtype=bool)  # where an opening sequence begins
        for code, role in enumerate(ROLES, 1):
            if role not in self.turns:
                continue
            starts = _matches(window, self.turns[role][0])
            opens[:, : starts.shape[1]] |= starts
            event[:, len(self.turns[role][0]) - 1 :][starts] = code
        closing = np.isin(window, [after[0] for _, after in self.turns.values()] + [self.document_end])
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


def document_start(folder: str | Path) -> tuple:
    """A model folder's tokenizer, and the token each document is read after: its document
    end, as training laid documents out. How ppl.json, lm-eval and the export's scores
    all start a document."""
    tok = tokenizer.load(Path(folder) / "tokenizer.json")
    return tok, read(tok, Path(folder) / "tokenizer.json").document_end


def read(tok, tokenizer_json: str | Path) -> Layout:
    """The layout of the tokenizer `tok`, from the tokenizer_config.json beside its tokenizer.json."""
    path = Path(tokenizer_json).parent / "tokenizer_config.json"
    return of(tok, read_json(path, "tokenizer config"), str(path))


def of(tok, config: dict, where: str) -> Layout:
    """The layout a tokenizer_config.json (`config`, read from `where`) gives `tok`."""
    document_end = config.get("minnow_document_end") or config.get("eos_token")
    ids = {name: _token_id(tok, config.get(f"{name}_token"), where, name) for name in ("bos", "eos", "pad")}
    if not document_end:
        raise InputError(f"{where}: no eos_token to end documents with")
    end = _token_id(tok, document_end, where, "minnow_document_end")
    pieces = template_pieces(config.get("chat_template"), where, special_tokens(config), _special_texts(tok))
    if pieces["suffix"] and _encode(tok, pieces["suffix"]) != (end,):
        raise InputError(
            f"{where}: the chat template ends a conversation with {pieces['suffix']!r}, not its document end "
            f"{_content(document_end)!r}"
        )
    heads = {role: _head(tok, before) for role, (before, _) in pieces["turns"].items()}
    turns = {role: (_marker(tok, *heads[role]), _encode(tok, after)) for role, (_, after) in pieces["turns"].items()}
    _check_markers(tok, turns, where)
    return Layout(
        document_end=end,
        turns=turns,
        answer_prompt=_encode(tok, pieces["answer_prompt"]),
        special=ids,
        opening=_encode(tok, pieces["opening"]),
        trim=pieces["trim"],
        heads=heads,
    )


def _special_texts(tok) -> list[str]:
    return [added.content for added in tok.get_added_tokens_decoder().values() if added.special]


def _head(tok, before: str) -> tuple[tuple[int, ...], str]:
    """What opens a turn, as ids up to its last special token and the plain text after it (a
    role name, a newline), which transformers encodes together with the content."""
    cut = max((before.rfind(s) + len(s) for s in _special_texts(tok) if s in before), default=0)
    return _encode(tok, before[:cut]), before[cut:]


def _marker(tok, head: tuple[int, ...], lead: str) -> tuple[int, ...]:
    """The ids that open a turn whatever its content: the head, then as much of the text after
    it as encodes alike before any content (a content opening with a newline or spaces may
    merge with a trailing newline). What the answer masks look for."""
    probes = ("", "a", " a", "  a", "\n", "\na", "\t", "1", ".", "你")
    return head + tuple(commonprefix([_encode_text(tok, lead + probe) for probe in probes]))


def special_tokens(config: dict) -> dict[str, str]:
    """The special tokens a template may use (bos_token, eos_token, ...), as transformers
    passes them to it."""
    tokens = {key: _content(value) for key, value in config.items() if key.endswith("_token")}
    return {key: value for key, value in tokens.items() if isinstance(value, str)}


def _content(token):
    return token.get("content") if isinstance(token, dict) else token  # an AddedToken, as some configs hold it


def _token_id(tok, token, where: str, key: str) -> int | None:
    token = _content(token)
    if token is None:
        return None
    found = tok.token_to_id(token)
    if found is None:
        raise InputError(f"{where}: {key} {token!r} is not a token of the tokenizer")
    return found


def _check_markers(tok, turns: dict, where: str) -> None:
    """Each turn must open and close with a special token: content is encoded with special
    tokens read as text, so no content can forge one, and answers are found from the ids."""
    special = {i for i, added in tok.get_added_tokens_decoder().items() if added.special}
    for role, (before, after) in turns.items():
        for side, ids in (("opens", before), ("closes", after)):
            if not ids or ids[0] not in special:
                text = tok.decode(list(ids), skip_special_tokens=False)
                raise InputError(
                    f"{where}: the chat template {side} each {role} turn with {text!r}, not a special token, so "
                    "minnow could not tell a turn's edge from its text"
                )
    openings = sorted(before for before, _ in turns.values())
    if any(later[: len(first)] == first for first, later in zip(openings, openings[1:], strict=False)):
        raise InputError(f"{where}: the chat template opens two roles' turns alike, or one as the start of another")


def _encode(tok, text: str, specials: bool = True) -> tuple[int, ...]:
    """Template text as ids, its special-token strings read as special tokens (content never is:
    `specials` False)."""
    matching = tok.encode_special_tokens
    tok.encode_special_tokens = not specials
    try:
        return tuple(tok.encode(text, add_special_tokens=False).ids)
    finally:
        tok.encode_special_tokens = matching


def _encode_text(tok, text: str) -> tuple[int, ...]:
    return _encode(tok, text, specials=False)


def template_pieces(
    template: str | None, where: str, special: dict[str, str] | None = None, special_texts: list[str] = ()
) -> dict:
    """What a Jinja chat template puts before and after a turn of each role, what it opens a
    conversation with when there is no system turn, what opens the answer and what ends a
    conversation, and whether it trims content: found by rendering it around placeholder
    contents, then checked to give exactly what the template renders. `special` are the
    tokens the template is given (bos_token, ...), `special_texts` every special token's text."""
    if not template:
        raise InputError(f"{where}: no chat_template to lay out conversations with")
    render = _renderer(template, where, special or {})
    roles = ("system", *TALK) if _has_system_turn(render) else TALK
    after, suffix, answer_prompt = _closings(render, roles, where, special_texts)
    gaps = _gaps(render(_conversation(roles)), _conversation(roles), where)
    turns = {roles[0]: (gaps[0], after[roles[0]])} if roles[0] == "system" else {}
    for i, role in enumerate(roles[1:], 1):
        if not gaps[i].startswith(after[roles[i - 1]]):
            raise InputError(f"{where}: the chat template lays out no {role} turn after a turn of {roles[i - 1]}")
        before = gaps[i][len(after[roles[i - 1]]) :]
        if turns.setdefault(role, (before, after[role]))[0] != before:
            raise InputError(f"{where}: the chat template opens {role} turns in two ways, by their place")
    first, user = _gaps(render(_conversation(TALK)), _conversation(TALK), where)[0], turns["user"][0]
    if not first.endswith(user):
        raise InputError(f"{where}: the chat template does not open a conversation with a user turn")
    opening, trim = first[: len(first) - len(user)], _trims(render, roles, where)
    pieces = {"turns": turns, "answer_prompt": answer_prompt, "suffix": suffix, "opening": opening, "trim": trim}
    _check_pieces(render, pieces, where)
    return pieces


def _conversation(roles, words=WORDS) -> list[dict]:
    return [{"role": role, "content": word} for role, word in zip(roles, words, strict=False)]


def _gaps(text: str, messages: list[dict], where: str) -> list[str]:
    """The text before, between and after the contents of `messages` in their rendering."""
    gaps = []
    for message in messages:
        before, found, text = text.partition(message["content"])
        if not found or message["content"] in text:
            raise InputError(f"{where}: the chat template does not render each turn's content once, in order")
        gaps.append(before)
    return [*gaps, text]


def _has_system_turn(render) -> bool:
    """Whether the template lays out a system turn in its place (Gemma's refuses one;
    Mistral's moves it into the last user turn)."""
    messages = _conversation(("system", *TALK))
    try:
        _gaps(render(messages), messages, "")
    except InputError:
        return False
    return True


def _closings(render, roles: tuple[str, ...], where: str, special_texts) -> tuple[dict[str, str], str, str]:
    """What closes a turn of each role, what ends a conversation and what opens the answer:
    a conversation ending with a role's turn renders its closing, then either the end or,
    with the generation prompt, the answer's opening (where they part, never inside a
    special token's text)."""
    after, ends, answer = {}, set(), ""
    for role in dict.fromkeys(roles):
        messages = _conversation(roles[: roles.index(role) + 1])
        plain, prompted = (_gaps(render(messages, gen), messages, where)[-1] for gen in (False, True))
        after[role] = _common_start(plain, prompted, special_texts)
        ends.add(plain[len(after[role]) :])
        answer = prompted[len(after[role]) :] if role == "user" else answer
    if len(ends) > 1:
        raise InputError(f"{where}: the chat template ends a conversation differently by its last turn's role")
    return after, ends.pop(), answer


def _common_start(a: str, b: str, special_texts) -> str:
    """The longest common start of two texts that does not end inside a special token's text."""
    common = commonprefix([a, b])
    cuts = [
        start
        for text in special_texts
        for start in range(max(0, len(common) - len(text) + 1), len(common))
        if text.startswith(common[start:]) and text in (a[start : start + len(text)], b[start : start + len(text)])
    ]
    return common[: min(cuts, default=len(common))]


def _trims(render, roles: tuple[str, ...], where: str) -> bool:
    """Whether the template strips whitespace around each turn's content (Llama 3's and
    Gemma's do); any other change to content is refused."""
    plain = render(_conversation(roles))
    padded = render(_conversation(roles, [f" \n{word} \n" for word in WORDS]))
    if all(f" \n{word} \n" in padded for word in WORDS[: len(roles)]):
        return False
    if padded == plain:
        return True
    raise InputError(f"{where}: the chat template changes a turn's content (minnow keeps it as it is or trimmed)")


def _check_pieces(render, pieces: dict, where: str) -> None:
    """The pieces give what the template renders, for conversations of one to four turns,
    with and without a system turn, with and without the generation prompt."""
    system = "system" in pieces["turns"]
    for start in ([("system",)] if system else []) + [()]:
        for n in range(1, len(TALK) + 1):
            messages = _conversation((*start, *TALK[:n]))
            for gen in (False, True) if TALK[n - 1] == "user" else (False,):
                text = "" if start else pieces["opening"]
                for m in messages:
                    before, after = pieces["turns"][m["role"]]
                    text += before + m["content"] + after
                text += pieces["answer_prompt"] if gen else pieces["suffix"]
                rendered = render(messages, gen)
                if rendered != text:
                    roles = " ".join(m["role"] for m in messages)
                    raise InputError(
                        f"{where}: the chat template renders a conversation ({roles}) as {rendered!r}, not turn "
                        f"by turn as {text!r}"
                    )


class _ReadsTheDate(Exception):
    pass


def _renderer(template: str, where: str, special: dict[str, str]):
    """Render the template as transformers' apply_chat_template does (sandboxed, trimmed
    blocks, loop controls, its helpers, the tokenizer's special tokens), but refuse one
    that reads today's date: its layout would change from day to day."""
    import json

    from jinja2 import TemplateError
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        """transformers' `{% generation %}` blocks (which mark answers for its masks), rendered as
        their content."""

        tags = {"generation"}

        def parse(self, parser):
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    def raise_exception(message):
        raise TemplateError(message)

    def strftime_now(format):
        raise _ReadsTheDate

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, Generation])
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )
    try:
        compiled = env.from_string(template)
    except TemplateError as e:
        raise InputError(f"{where}: the chat template does not parse ({e})") from None

    def render(messages, add_generation_prompt=False):
        try:
            return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt, **special)
        except _ReadsTheDate:
            raise InputError(f"{where}: the chat template reads today's date: its layout would change daily") from None
        except TemplateError as e:
            raise InputError(
                f"{where}: the chat template fails on a conversation ending with {messages[-1]['role']} ({e})"
            ) from None

    return render
