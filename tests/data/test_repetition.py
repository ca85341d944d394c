"""minnow's repetition filter and alphanumeric ratio give the verdicts of the slower originals.

The reference is datatrove's GopherRepetitionFilter driven by minnow's word splitter,
exactly as minnow used it before computing the statistics on word hashes.
"""

import random
from pydoc_data.topics import topics

import pytest
import regex

from minnow.data.builtin import guppy
from minnow.data.documents import Document
from minnow.data.filters import CJK_CHAR, RepetitionFilter, spaced, visible_and_alnum, words

GOPHER = {
    "min_words": 50,
    "dup_line_frac": 0.3,
    "dup_para_frac": 0.3,
    "top_n_grams": {2: 0.2, 3: 0.18, 4: 0.16},
    "dup_n_grams": {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1},
}


def datatrove_keeps(text: str) -> bool:
    """The verdict of datatrove's filter, run as minnow ran it (twice on CJK text)."""
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

    def passes(text, lines, paragraphs, top, duplicated):
        check = GopherRepetitionFilter(
            dup_line_frac=lines,
            dup_para_frac=paragraphs,
            dup_line_char_frac=1.0,
            dup_para_char_frac=1.0,
            top_n_grams=tuple(top.items()),
            dup_n_grams=tuple(duplicated.items()),
            language=Splitter(),
        )
        verdict = check.filter(DatatroveDocument(text=text, id="x"))
        return verdict is True or (isinstance(verdict, tuple) and verdict[0])

    if len(words(text)) < GOPHER["min_words"]:
        return True
    g = GOPHER
    if not CJK_CHAR.search(text):
        return passes(text, g["dup_line_frac"], g["dup_para_frac"], g["top_n_grams"], g["dup_n_grams"])
    return passes(spaced(text), g["dup_line_frac"], g["dup_para_frac"], g["top_n_grams"], {}) and passes(
        text, None, None, {}, g["dup_n_grams"]
    )


def corpus() -> list[str]:
    """Real prose and code, chat, and documents made to repeat in each way the filter checks."""
    rng = random.Random(0)
    texts = [t for t in topics.values() if len(t) > 200][:150]
    talk = [f"{r['input']}\n{r['output']}" for r in guppy.generate(400, 3)]
    texts += ["\n".join(talk[i : i + 12]) for i in range(0, 400, 12)]
    for base in texts[:60]:
        lines = base.splitlines()
        texts.append("\n".join(lines + rng.sample(lines, min(len(lines), rng.randint(1, 8)))))  # repeated lines
        paragraphs = base.split("\n\n")
        texts.append("\n\n".join(paragraphs + paragraphs[: rng.randint(1, 3)]))  # repeated paragraphs
        ws = base.split()
        start = rng.randrange(max(1, len(ws) - 12))
        phrase = " ".join(ws[start : start + rng.randint(2, 12)])
        texts.append(base + (" " + phrase) * rng.randint(1, 9))  # a repeated phrase
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 40)]
    texts += [
        "".join(rng.choice(han) for _ in range(rng.randint(60, 200))) + "。" * rng.randint(0, 3) for _ in range(40)
    ]
    texts += ["好的，" + "我们去公园散步吧。" * rng.randint(1, 12) + "".join(rng.sample(han, 30)) for _ in range(20)]
    return texts


def test_repetition_verdicts_match_datatroves_on_prose_code_chat_and_repeats():
    texts = corpus()
    ours = [RepetitionFilter(**GOPHER).keep(Document(t, "s")) for t in texts]
    theirs = [datatrove_keeps(t) for t in texts]
    assert ours == theirs
    assert 0.2 < sum(ours) / len(ours) < 0.95  # the corpus exercises both verdicts


@pytest.mark.parametrize("seed", range(5))
def test_visible_and_alnum_counts_match_the_regex_definitions(seed):
    rng = random.Random(seed)
    alphabet = "ab Z9_ \t\n\r\x0b\x0c\x1c\x1d\x85\xa0\u2003\u3000é漢字ーカ%$#@!,.-_"
    text = "".join(rng.choice(alphabet) for _ in range(400))
    visible = len(text) - len(regex.findall(r"\s", text))
    alnum = len(text) - len(regex.findall(r"[^\p{L}\p{N}]", text))
    assert visible_and_alnum(text, words(text)) == (visible, alnum)
