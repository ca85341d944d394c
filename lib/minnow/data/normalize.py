"""Unicode and whitespace normalisation applied to every document before filtering.

NFC makes the same visible text the same bytes (so exact dedup and the tokenizer
see one form of "é", not two). Whitespace is tidied without touching indentation,
since code documents need it: line endings become \\n, exotic spaces become plain
spaces, invisible characters go, trailing spaces and runs of blank lines shrink.
"""

import re
import unicodedata

from minnow.data.documents import Document

# invisible characters go, exotic spaces become plain ones: one table, one pass
_TABLE = {
    **dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad")),
    **dict.fromkeys(
        map(ord, "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"), " "
    ),
}
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize_text(text: str, lowercase: bool = False) -> str:
    if not unicodedata.is_normalized("NFC", text):  # a quick check; most text already is
        text = unicodedata.normalize("NFC", text)
    text = text.translate(_TABLE) if not text.isascii() else text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _BLANK_RUNS.sub("\n\n", _TRAILING.sub("\n", text)).strip()
    return text.lower() if lowercase else text


def normalize(doc: Document, lowercase: bool = False) -> Document:
    """The document with its text (and each chat turn) normalised."""
    if doc.messages is None:
        return Document(normalize_text(doc.text, lowercase), doc.source, stream=doc.stream)
    turns = [{"role": t["role"], "content": normalize_text(t["content"], lowercase)} for t in doc.messages]
    return Document("\n".join(t["content"] for t in turns), doc.source, turns)
