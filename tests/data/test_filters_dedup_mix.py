import numpy as np
import pytest

from minnow.data.dedup import Keys, find_duplicates
from minnow.data.documents import Document
from minnow.data.filters import AlnumRatioFilter, LanguageFilter, LengthFilter, RepetitionFilter, spaced, words
from minnow.data.minhash import lsh_bands, shingle_hashes, signatures
from minnow.data.mix import repeats, sampling_factors
from minnow.data.normalize import normalize, normalize_text
from minnow.data.split import is_val
from minnow.data.word_hashes import hash_words, ngram_hashes
from minnow.digests import content_id

GOPHER = {
    "dup_line_frac": 0.3,
    "dup_para_frac": 0.3,
    "top_n_grams": {2: 0.2, 3: 0.18, 4: 0.16},
    "dup_n_grams": {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1},
}
PROSE = (
    "The quick brown fox jumps over the lazy dog while the farmer sleeps under an old oak tree. "
    "Later that evening a storm rolled across the valley, flooding fields and scattering the sheep. "
    "By morning the river had returned to its banks and children were playing in the mud again."
)


def test_normalize_nfc_whitespace_and_lowercase():
    decomposed = "Cafe\u0301\u00a0\u200bbar  \r\n\r\n\r\n\r\n  code:\n    indented   \n"
    assert normalize_text(decomposed) == "Caf\u00e9 bar\n\n  code:\n    indented"
    assert normalize_text("ÉTÉ", lowercase=True) == "été"
    chat = normalize(Document("x", "s", [{"role": "user", "content": "HI\u00a0 "}]), lowercase=True)
    assert chat.messages == [{"role": "user", "content": "hi"}] and chat.text == "hi"


def test_words_count_cjk_characters_and_skip_punctuation():
    assert words("Hello, world! 你好世界") == ["Hello", "world", "你", "好", "世", "界"]


def test_length_and_alnum_filters():
    assert LengthFilter(5, 10).keep(Document("abcdef", "s"))
    assert not LengthFilter(5, 10).keep(Document("abc", "s"))
    assert AlnumRatioFilter(0.5).keep(Document("plain words here", "s"))
    assert not AlnumRatioFilter(0.5).keep(Document("|---|---|--|  ** ## 1", "s"))


def test_repetition_filter_drops_repeated_text_but_spares_short_chat():
    f = RepetitionFilter(min_words=50, **GOPHER)
    assert f.keep(Document(PROSE, "s"))
    assert not f.keep(Document("buy cheap pills now\n" * 40, "s"))
    assert f.keep(Document("do fish play? fish play a lot. fish play.", "s"))


# an ordinary answer that names its four-character subject (光合作用) four times, as topical prose does
PHOTOSYNTHESIS = (
    "什么是光合作用？\n光合作用是植物、藻类和某些细菌利用光能，把二氧化碳和水转化为葡萄糖和氧气的过程。"
    "光合作用主要在叶绿体中进行，分为光反应和暗反应两个阶段。光反应把光能转化为化学能，"
    "暗反应利用这些化学能把二氧化碳固定为有机物。光合作用为地球上几乎所有的生命提供了能量和氧气。"
)


def test_repetition_filter_reads_chinese_at_its_real_length():
    f = RepetitionFilter(min_words=50, **GOPHER)
    assert spaced("光合 作用ok") == "光 合  作 用 ok"
    # 光合作用 covers 16 of its 136 characters, 0.12 (under the top 4-gram's 0.16); measured with
    # the 3 spaces between the characters that datatrove adds, it read as 28, 0.21, and was dropped
    assert f.keep(Document(PHOTOSYNTHESIS, "s"))
    assert not f.keep(Document("点击这里免费领取大奖！" * 20, "s"))
    assert not f.keep(Document("今天天气很好。" + "买一送一，" * 18 + "明天可能会下雨。", "s"))
    # duplicated n-grams count the characters as written: an 11-character phrase three times among
    # 100 others puts 22 of 133 characters, 0.17, in repeated 5-grams (over 0.15)
    filler = "".join(chr(0x4E00 + 7 * i) for i in range(100))
    phrase = "我们今天一起去公园散步"
    assert f.keep(Document(filler, "s"))
    assert not f.keep(
        Document(filler[:30] + phrase + filler[30:60] + phrase + filler[60:90] + phrase + filler[90:], "s")
    )


def test_language_filter_keeps_allowed_languages():
    f = LanguageFilter(["en"], 0.5)
    assert f.keep(Document(PROSE, "s"))
    assert not f.keep(Document("Der schnelle braune Fuchs springt über den faulen Hund und schläft.", "s"))


def keys_of(docs: list[tuple[int, int, str]], num_perm: int = 128, ngram: int = 3) -> Keys:
    """Dedup keys of (source index, part, text) documents, rows numbered per part."""
    rows, seen = [], {}
    for source, part, _ in docs:
        rows.append(seen.setdefault((source, part), 0))
        seen[(source, part)] += 1
    ids = [content_id(text) for _, _, text in docs]
    word_lists = [words(text) for _, _, text in docs]
    return Keys(
        source=np.array([d[0] for d in docs]),
        part=np.array([d[1] for d in docs]),
        row=np.array(rows),
        ids=ids,
        id_value=np.array([int(i, 16) for i in ids], dtype=np.uint64),
        bytes=np.array([len(d[2]) for d in docs]),
        words=np.array([len(w) for w in word_lists]),
        stream=np.zeros(len(docs), bool),
        signatures=signatures(hash_words(word_lists), num_perm, ngram, 0),
    )


EDITED = PROSE.replace("lazy", "sleepy")
OTHER = "An entirely different document about compilers, parsing and register allocation in detail."


def test_exact_copies_keep_the_first_source_whatever_the_part():
    keys = keys_of([(1, 0, PROSE), (0, 3, PROSE), (0, 1, OTHER), (1, 2, PROSE)])
    reason, keeper = find_duplicates(keys, 0.7)
    assert reason.tolist() == ["exact_duplicate", "", "", "exact_duplicate"] and keeper.tolist() == [1, 1, 2, 1]


def test_near_copies_cluster_across_sources_and_parts_and_keep_one():
    keys = keys_of([(1, 0, EDITED), (0, 2, PROSE), (1, 1, OTHER)])
    reason, keeper = find_duplicates(keys, 0.7)
    assert reason.tolist() == ["near_duplicate", "", ""] and keeper.tolist() == [1, 1, 2]
    alone = keys_of([(0, 0, EDITED), (0, 1, OTHER)])
    assert find_duplicates(alone, 0.7)[0].tolist() == ["", ""]


def test_a_chain_of_near_copies_is_one_cluster_with_one_keeper():
    chain = [PROSE]
    for old, new in (("lazy", "sleepy"), ("storm", "gale"), ("children", "kids")):
        chain.append(chain[-1].replace(old, new))
    keys = keys_of([(0, i % 2, text) for i, text in enumerate(chain)])
    reason, keeper = find_duplicates(keys, 0.7)
    assert (reason == "").sum() == 1 and len(set(keeper.tolist())) == 1


def test_lsh_band_midpoint_is_below_threshold():
    b = lsh_bands(128, 0.8)
    assert 128 % b == 0 and (1 / b) ** (b / 128) <= 0.8
    assert (
        shingle_hashes(np.array([1, 2], dtype=np.uint64), 5).tolist()
        == ngram_hashes(np.array([1, 2], dtype=np.uint64), 2).tolist()
    )


def test_mix_without_total_repeats_nothing_and_hits_weights():
    factors = sampling_factors({"a": 1000, "b": 9000}, {"a": 0.5, "b": 0.5}, None)
    assert factors == pytest.approx({"a": 1.0, "b": 1000 / 9000})


def test_mix_with_total_upsamples():
    factors = sampling_factors({"a": 100, "b": 300}, {"a": 1, "b": 1}, 1000)
    assert factors == pytest.approx({"a": 5.0, "b": 500 / 300})
    counts = [repeats(2.25, 0, f"doc{i}", "a") for i in range(4000)]
    assert set(counts) == {2, 3} and sum(counts) / 4000 == pytest.approx(2.25, abs=0.03)
    assert counts == [repeats(2.25, 0, f"doc{i}", "a") for i in range(4000)]


def test_split_is_deterministic_and_near_fraction():
    ids = [f"{i:016x}" for i in range(20000)]
    val = [i for i in ids if is_val(i, 0.1, seed=3)]
    assert val == [i for i in ids if is_val(i, 0.1, seed=3)]
    assert len(val) == pytest.approx(2000, rel=0.08)
    assert val != [i for i in ids if is_val(i, 0.1, seed=4)]
