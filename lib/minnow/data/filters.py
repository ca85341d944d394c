"""Quality filters: each keeps or drops a document and says why, as datatrove's do.

The repetition filter is datatrove's `GopherRepetitionFilter` (duplicated lines
and paragraphs, top and duplicated n-gram fractions, the thresholds of the Gopher
paper), driven with a small regex word splitter so it needs neither spaCy nor
NLTK data and treats each CJK character as a word (measuring CJK n-grams by the
characters the text really has, see `spaced`). Length and alphanumeric ratio are
one line each, and language id uses py3langid, whose model ships in the wheel,
so the offline default needs no download.
"""

from dataclasses import dataclass

import regex

from minnow.data.documents import Document

SPACE = regex.compile(r"\s")
NOT_ALNUM = regex.compile(r"[^\p{L}\p{N}]")
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

    def keep(self, doc: Document) -> bool:
        return self.min_chars <= len(doc.text) <= self.max_chars


@dataclass
class AlnumRatioFilter:
    """Drops text that is mostly symbols: tables of numbers, markup, binary junk."""

    min_ratio: float
    name: str = "alnum_ratio"

    def keep(self, doc: Document) -> bool:
        # subn counts matches in C; a per-character Python loop was a third of prepare_corpus
        visible = len(doc.text) - SPACE.subn("", doc.text)[1]
        alnum = len(doc.text) - NOT_ALNUM.subn("", doc.text)[1]
        return visible > 0 and alnum / visible >= self.min_ratio


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
    """datatrove's Gopher repetition filter with minnow's word splitter.

    Documents under `min_words` words pass: Gopher applied these statistics after
    dropping documents of fewer than 50 words, and on a two-line chat turn one
    repeated phrase already exceeds every n-gram threshold.

    datatrove counts the characters of an n-gram two ways: top n-grams with spaces
    between the words, duplicated n-grams without. Text with CJK characters is
    therefore checked twice, lines, paragraphs and top n-grams on the `spaced`
    text and duplicated n-grams on the text as written, so that both fractions
    count the characters the text has; any other text is checked once, as before.
    """

    name = "repetition"

    def __init__(self, min_words, dup_line_frac, dup_para_frac, top_n_grams, dup_n_grams):
        self.min_words = min_words
        from datatrove.data import Document as DatatroveDocument
        from datatrove.pipeline.filters import GopherRepetitionFilter
        from datatrove.utils.word_tokenizers import WordTokenizer

        class Splitter(WordTokenizer):
            def word_tokenize(self, text):
                return words(text)

            def sent_tokenize(self, text):
                return [text]

            def span_tokenize(self, text):
                return [(0, len(text))]

        def gopher(lines, paragraphs, top, duplicated):
            return GopherRepetitionFilter(
                dup_line_frac=lines,
                dup_para_frac=paragraphs,
                dup_line_char_frac=1.0,
                dup_para_char_frac=1.0,
                top_n_grams=tuple((int(n), f) for n, f in top.items()),
                dup_n_grams=tuple((int(n), f) for n, f in duplicated.items()),
                language=Splitter(),
            )

        self._doc = DatatroveDocument
        self._checks = gopher(dup_line_frac, dup_para_frac, top_n_grams, dup_n_grams)
        self._spaced_checks = gopher(dup_line_frac, dup_para_frac, top_n_grams, {})
        self._written_checks = gopher(None, None, {}, dup_n_grams)

    def _passes(self, checks, text: str, doc_id: str) -> bool:
        verdict = checks.filter(self._doc(text=text, id=doc_id))
        return verdict is True or (isinstance(verdict, tuple) and verdict[0])

    def keep(self, doc: Document) -> bool:
        if len(words(doc.text)) < self.min_words:
            return True
        if not CJK_CHAR.search(doc.text):
            return self._passes(self._checks, doc.text, doc.id)
        return self._passes(self._spaced_checks, spaced(doc.text), doc.id) and \
            self._passes(self._written_checks, doc.text, doc.id)


class LanguageFilter:
    """Keeps documents whose most likely language is allowed with enough confidence."""

    name = "language"

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
