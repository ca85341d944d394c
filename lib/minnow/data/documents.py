"""The shared document type and the record shapes minnow understands.

Every reader yields raw records (dicts); `to_document` turns each into one
`Document`, whatever its shape: plain `text`, `prompt`/`completion`,
`input`/`output`, or a `messages` list of role/content turns. Chat records keep
their turns in `messages` so later stages can render them with the chat template
and train on answers only; their `text` is the turns joined, which is what the
filters and dedup look at.
"""

from dataclasses import dataclass

from minnow.errors import InputError

ROLES = ("system", "user", "assistant")
PAIR_SHAPES = (("prompt", "completion"), ("input", "output"))


@dataclass
class Document:
    text: str
    source: str
    messages: list[dict] | None = None
    stream: bool = False  # a text file kept whole, or a part of one (`readers.reads_streams`)
    id: str = ""
    words: list[str] | None = None  # filled once per document for the filters and MinHash
    word_hashes: object = None  # numpy uint64 array, `word_hashes.hash_words`


def _messages(value, where: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: 'messages' must be a non-empty list of {{role, content}} turns")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise InputError(
                f"{where}: messages[{i}] must be {{role: one of {', '.join(ROLES)}, content: string}}, got {turn!r:.80}"
            )
        turns.append({"role": turn["role"], "content": turn["content"]})
    return turns


def _pair(record: dict, where: str) -> list[dict] | None:
    for ask, answer in PAIR_SHAPES:
        if ask in record and answer in record:
            if not isinstance(record[ask], str) or not isinstance(record[answer], str):
                raise InputError(f"{where}: '{ask}' and '{answer}' must be strings")
            return [{"role": "user", "content": record[ask]}, {"role": "assistant", "content": record[answer]}]
    return None


def to_document(record, source: str, where: str, text_field: str | None = None) -> Document:
    """One record of any supported shape as a Document; `where` names file and line."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if text_field is not None:
        if not isinstance(record.get(text_field), str):
            raise InputError(f"{where}: text_field '{text_field}' is missing or not a string")
        return Document(record[text_field], source)
    turns = _messages(record["messages"], where) if "messages" in record else _pair(record, where)
    if turns is not None:
        return Document("\n".join(t["content"] for t in turns), source, turns)
    if isinstance(record.get("text"), str):
        return Document(record["text"], source)
    raise InputError(
        f"{where}: no text found; a record needs 'text', 'prompt'/'completion', 'input'/'output' or "
        f"'messages' (keys here: {', '.join(sorted(map(str, record))) or 'none'}); "
        "set text_field for another column"
    )
