"""A trained model folder, ready to continue text or hold a conversation.

`Assistant` is what `minnow sample`, `minnow chat` and Python callers share. It
builds prompts exactly as training laid out documents (each follows a document
end) and chats (`chat_layout`), lowercases input for a model that only ever
saw lowercase text, trims a conversation to leave the answer room in the
context, and answers in the OpenAI `chat.completion` shape, so code written
against that API reads minnow's answers unchanged.
"""

import time
import uuid
from pathlib import Path

from minnow import devices
from minnow.errors import InputError
from minnow.inference.generate import generate
from minnow.model import model_folder
from minnow.tokens import chat_layout, tokenizer

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
ROLES = ("system", "user", "assistant")
DEFAULT_MAX_TOKENS = 128


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise InputError(f"{folder}: no such model folder")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder}: not a model folder (missing {', '.join(missing)})")


def check_messages(messages: list[dict]) -> None:
    if not messages:
        raise InputError("a chat needs at least one message")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InputError(f"message {i}: expected {{'role': one of {', '.join(ROLES)}, 'content': text}}, got {m!r}")


def kept_turns(lengths: list[int], roles: list[str], budget: int) -> list[int]:
    """Indices of the turns that fit `budget` tokens: leading system turns always stay,
    the oldest exchanges go (up to the next user turn), and the last turn is never dropped."""
    head = next((i for i, role in enumerate(roles) if role != "system"), len(roles))
    start, used, last = head, sum(lengths), len(roles) - 1
    while start < last and (used > budget or (start > head and roles[start] != "user")):
        used -= lengths[start]
        start += 1
    return list(range(head)) + list(range(start, len(roles)))


def completion(model: str, content: str, finish_reason: str, prompt_tokens: int, completion_tokens: int) -> dict:
    """An answer in the shape of OpenAI's chat.completion object."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class Assistant:
    """A model with its tokenizer; sampling options (temperature, top_k, top_p,
    repetition_penalty, seed) pass through to `generate.generate`."""

    def __init__(self, model, tok, layout: chat_layout.Layout, lowercase: bool = False, name: str = "minnow"):
        if tok.get_vocab_size() > model.cfg.vocab_size:
            raise InputError(
                f"{name}: the tokenizer has {tok.get_vocab_size()} tokens, the model embeds only {model.cfg.vocab_size}"
            )
        self.model, self.tok, self.layout, self.lowercase, self.name = model, tok, layout, lowercase, name

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> "Assistant":
        """The model in a folder written by the train stage (weights, config.json, tokenizer)."""
        folder = Path(folder)
        check_folder(folder)
        lowercase = bool(model_folder.model_info(folder).get("minnow_data", {}).get("lowercase", False))
        model = model_folder.load_model(folder).to(devices.eval_device(device))
        tok = tokenizer.load(folder / "tokenizer.json")
        layout = chat_layout.read(tok, folder / "tokenizer.json")
        return cls(model, tok, layout, lowercase, model_folder.display_name(folder))

    def prompt_budget(self, max_tokens: int) -> int:
        """Prompt tokens allowed so that an answer of max_tokens fits; a long answer
        may claim at most half the context, so a prompt always keeps the other half."""
        context = self.model.cfg.context
        return context - min(max_tokens, context // 2)

    def _as_trained(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    # --- plain text -----------------------------------------------------------------------

    def completion_ids(self, prompt: str, max_tokens: int = DEFAULT_MAX_TOKENS) -> list[int]:
        """The document end, then the prompt (its end, if long): every training document
        follows one, so it marks a document's start and gives an empty prompt a place to begin."""
        ids = [self.layout.document_end] + self.tok.encode(self._as_trained(prompt), add_special_tokens=False).ids
        return ids[-self.prompt_budget(max_tokens) :]

    def complete(self, prompt: str, max_tokens: int = DEFAULT_MAX_TOKENS, **sampling) -> str:
        """The text that follows `prompt`, up to max_tokens or the end of the document."""
        ids = self.completion_ids(prompt, max_tokens)
        new, _ = generate(self.model, ids, max_tokens, stop_ids=(self.layout.document_end,), **sampling)
        return self.tok.decode(new)

    # --- chat -----------------------------------------------------------------------------

    def _turn_ids(self, messages: list[dict]) -> list[list[int]]:
        check_messages(messages)
        return [self.layout.encode_turn(self.tok, {"role": m["role"], "content": self._content(m)}) for m in messages]

    def _content(self, message: dict) -> str:
        return message["content"] if message["role"] == "assistant" else self._as_trained(message["content"])

    def _kept(self, turn_ids: list[list[int]], messages: list[dict], max_tokens: int) -> list[int]:
        budget = self.prompt_budget(max_tokens) - len(self.layout.answer_prompt) - len(self.layout.opening_of(messages))
        return kept_turns([len(ids) for ids in turn_ids], [m["role"] for m in messages], budget)

    def fit(self, messages: list[dict], max_tokens: int = DEFAULT_MAX_TOKENS) -> list[dict]:
        """The conversation without the oldest turns that leave no room for an answer."""
        return [messages[i] for i in self._kept(self._turn_ids(messages), messages, max_tokens)]

    def prompt_ids(self, messages: list[dict], max_tokens: int = DEFAULT_MAX_TOKENS) -> list[int]:
        """What the model reads before answering: the fitted conversation in the chat
        layout, then what opens the answer (cut to its end if one turn alone is too long)."""
        turn_ids = self._turn_ids(messages)
        ids = [*self.layout.opening_of(messages)]
        ids += [t for i in self._kept(turn_ids, messages, max_tokens) for t in turn_ids[i]]
        return (ids + list(self.layout.answer_prompt))[-self.prompt_budget(max_tokens) :]

    def chat(self, messages: list[dict], max_tokens: int = DEFAULT_MAX_TOKENS, **sampling) -> dict:
        """The next assistant turn, as an OpenAI chat.completion dict."""
        prompt = self.prompt_ids(messages, max_tokens)
        new, finish_reason = generate(self.model, prompt, max_tokens, stop_ids=self.layout.stops, **sampling)
        return completion(self.name, self.tok.decode(new), finish_reason, len(prompt), len(new))
