"""Quality filters: each keeps or drops a document and says why, as datatrove's do.

The repetition filter gives the verdicts of datatrove's `GopherRepetitionFilter`
(duplicated lines and paragraphs, top and duplicated n-gram fractions, the
thresholds of the Gopher paper) on a small regex word splitter, so it needs
neither spaCy nor NLTK data and treats each CJK character as a word (measuring CJK
n-grams by the characters the text really has, see `spaced`); it computes them on
word hashes (`repetition`), many times faster than datatrove's strings. Length and
alphanumeric ratio are a line each, and language id uses py3langid, whose model
ships in the wheel, so the offline default needs no download. Filters read the
words and word hashes prepare_part computed once per document (`Document.words`).

Length and repetition judge a web page by its shape: a page of a million
characters is a dump, one whose lines repeat is boilerplate or spam. A stream (a
book, a play or a code file read whole, `readers.reads_streams`) has the length of
its file, or of the part the download cut, and repeats its speaker names, refrains
and stage directions because that is its form, so these two filters leave stream
documents alone (`for_streams`; stats.json counts them as `skipped_<filter>`).
Alphanumeric ratio and language judge what the text is made of, and apply to
every document.
"""

from dataclasses import dataclass

import numpy as np
import regex

from minnow.data import repetition
from minnow.data.documents import Document
from minnow.data.word_hashes import hash_words

CJK = r"\p{Han}|\p{Hiragana}|\p{Katakana}"
CJK_CHAR = regex.compile(CJK)
WORD = regex.compile(CJK + r"|[\p{L}\p{N}_]+")


def words(text: str) -> list[str]:
    """Words for repetition, dedup and mixing: letter/digit runs, each CJK character
    one word, punctuation left out (as Gopher counts words)."""
    return WORD.findall(text)


@dataclass
class LengthFilter:
    min_chars: int
    max_chars: int
    name: str = "length"
    for_streams = False  # a stream is as long as its file or part: its length says nothing of its quality

    def keep(self, doc: Document) -> bool:
        return self.min_chars <= len(doc.text) <= self.max_chars


@dataclass
class AlnumRatioFilter:
    """Drops text that is mostly symbols: tables of numbers, markup, binary junk."""

    min_ratio: float
    name: str = "alnum_ratio"
    for_streams = True

    def keep(self, doc: Document) -> bool:
        visible, alnum = visible_and_alnum(doc.text, doc.words if doc.words is not None else words(doc.text))
        return visible > 0 and alnum / visible >= self.min_ratio


def visible_and_alnum(text: str, text_words: list[str]) -> tuple[int, int]:
    """Visible (non-space) characters, and letters and digits among them, from the words
    already found: every letter, digit and underscore is in exactly one word, so this needs
    no pass of its own over the text. Spaces are Unicode White_Space (regex's \\s), which
    unlike str.split leaves \\x1c-\\x1f visible."""
    visible = sum(map(len, text.split())) + sum(text.count(c) for c in "\x1c\x1d\x1e\x1f")
    return visible, sum(map(len, text_words)) - text.count("_")


def spaced(text: str) -> str:
    """The text with a space after each CJK character, for Gopher's top n-gram fractions.

    datatrove measures a top n-gram as its words joined by spaces, against the
    length of the text: right where words are written apart. CJK writes no spaces
    between the characters minnow counts as words, so an n-gram of n of them would
    count n - 1 spaces the text lacks, and a Chinese answer naming its
    four-character subject four times read as 1.75 times as repetitive as it is
    (and was dropped). Spaced, both lengths count the same characters, as in English.
    """
    return CJK_CHAR.sub(r"\g<0> ", text)


class RepetitionFilter:
    """Gopher's repetition filter (`minnow.data.repetition`, datatrove's verdicts) on minnow's words.

    Documents under `min_words` words pass: Gopher applied these statistics after
    dropping documents of fewer than 50 words, and on a two-line chat turn one
    repeated phrase already exceeds every n-gram threshold.

    datatrove counts the characters of an n-gram two ways: top n-grams with spaces
    between the words, duplicated n-grams without. Text with CJK characters is
    therefore checked twice, lines, paragraphs and top n-grams on the `spaced`
    text and duplicated n-grams on the text as written, so that both fractions
    count the characters the text has; any other text is checked once.
    """

    name = "repetition"
    for_streams = False  # a play repeats its speakers' names, a poem its refrain: form, not boilerplate

    def __init__(self, min_words, dup_line_frac, dup_para_frac, top_n_grams, dup_n_grams):
        self.min_words = min_words
        self.lines, self.paragraphs, self.top, self.duplicated = dup_line_frac, dup_para_frac, top_n_grams, dup_n_grams

    def keep(self, doc: Document) -> bool:
        words_, hashes = doc.words, doc.word_hashes
        if words_ is None or hashes is None:
            words_ = words(doc.text)
            hashes = hash_words([words_])[0]
        if len(words_) < self.min_words:
            return True
        lengths = np.fromiter(map(len, words_), dtype=np.int64, count=len(words_))
        if not CJK_CHAR.search(doc.text):
            return repetition.passes(doc.text, lengths, hashes, self.lines, self.paragraphs, self.top, self.duplicated)
        return repetition.passes(
            spaced(doc.text), lengths, hashes, self.lines, self.paragraphs, self.top, {}
        ) and repetition.passes(doc.text, lengths, hashes, None, None, {}, self.duplicated)


class LanguageFilter:
    """Keeps documents whose most likely language is allowed with enough confidence."""

    name = "language"
    for_streams = True

    def __init__(self, allowed: list[str], min_score: float):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identify = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True).classify
        self.allowed, self.min_score = set(allowed), min_score

    def keep(self, doc: Document) -> bool:
        language, score = self._identify(doc.text)
        return language in self.allowed and score >= self.min_score


def build_filters(spec: dict) -> list:
    """The filter chain a corpus config asks for, in a fixed order: cheap ones first."""
    chain = [LengthFilter(spec["min_chars"], spec["max_chars"]), AlnumRatioFilter(spec["min_alnum_ratio"])]
    repetition = dict(spec["repetition"])
    if repetition.pop("enabled"):
        chain.append(RepetitionFilter(**repetition))
    if spec["language"]["allowed"]:
        chain.append(LanguageFilter(**spec["language"]))
    return chain
