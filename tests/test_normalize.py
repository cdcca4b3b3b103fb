"""indexer.normalize: each folding step on real words, the offset map, stems, and the laws that hold for any text."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from indexer.normalize import (
    ONE_TO_ONE,
    chunk_words,
    normalize,
    normalize_text,
    original_words,
    stem_word,
    stemmed,
    tokens,
)

SEED_SENTENCE = "أكّد الوكيلُ المكلّف بوزارة العدل على أهمية تبادل الخبرات"

# --- the alphabet of the property tests ------------------------------------------------------------------

ARABIC_LETTERS = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىيٱکیۀ"
HARAKAT = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0653\u0654\u0655\u0670"
TATWEEL = "\u0640"
LIGATURES = "\ufefb\ufef5\ufdf2\ufdfa\ufc5e\ufe8d\ufe91\ufee0"  # ﻻ ﻵ ﷲ ﷺ ﱞ ﺍ ﺑ ﻠ
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉßﬁ"
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫"
PUNCTUATION = ".,;:!?()«»\"'-،؛؟…"
SPACES = " \n\t\u00a0"
CONTROLS = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c\ufeff\u00ad"
ALPHABET = ARABIC_LETTERS + HARAKAT + TATWEEL + LIGATURES + LATIN + DIGITS + PUNCTUATION + SPACES + CONTROLS

texts = st.text(alphabet=ALPHABET, max_size=60)


# --- the steps, on real words ----------------------------------------------------------------------------


def test_removes_harakat_tatweel_and_controls() -> None:
    assert normalize_text("أَكَّدَ") == "اكد"
    assert normalize_text("الـــوزير") == "الوزير"
    assert normalize_text("\u200fالكويت\u200e \u2067Kuwait\u2069\u200b") == "الكويت kuwait"
    assert normalize_text("مُؤْتَمَرٌ") == "موتمر"


def test_folds_letter_forms() -> None:
    assert normalize_text("أحمد إبراهيم آمال ٱلله") == "احمد ابراهيم امال الله"
    assert normalize_text("مؤتمر") == "موتمر"
    assert normalize_text("رئيس") == "رييس"
    assert normalize_text("على مستشفى") == "علي مستشفي"
    assert normalize_text("المدرسة الكويتية") == "المدرسه الكويتيه"


def test_folds_digits_and_lowercases_latin() -> None:
    assert normalize_text("٢٠٢٥ - ۲۰۲۸") == "2025 - 2028"
    assert normalize_text("نمو ٣٫٥ بالمئة") == "نمو 3.5 بالميه"
    assert normalize_text("The UN Office on Drugs") == "the un office on drugs"


def test_expands_presentation_forms() -> None:
    assert normalize_text("\ufefbعب") == "لاعب"  # ﻻعب
    assert normalize_text("\ufdf2") == "الله"
    assert normalize_text("\ufe8d\ufe91\ufee0") == "ابل"


def test_normalize_agrees_with_normalize_text_on_the_seed() -> None:
    result = normalize(SEED_SENTENCE)
    assert result.text == normalize_text(SEED_SENTENCE) == "اكد الوكيل المكلف بوزاره العدل علي اهميه تبادل الخبرات"
    assert result.original == SEED_SENTENCE


# --- the offset map --------------------------------------------------------------------------------------


def test_span_found_in_normalised_text_maps_to_the_original_with_its_diacritics() -> None:
    result = normalize(SEED_SENTENCE)
    start = result.text.index("المكلف")
    a, b = result.original_span(start, start + len("المكلف"))
    assert SEED_SENTENCE[a:b] == "المكلّف"
    start = result.text.index("الوكيل")
    a, b = result.original_span(start, start + len("الوكيل"))
    assert SEED_SENTENCE[a:b] == "الوكيلُ"


def test_span_over_tatweel_and_ligature_maps_to_whole_original() -> None:
    original = "قال الـلاعب \ufefbعب اليوم"
    result = normalize(original)
    assert result.text == "قال اللاعب لاعب اليوم"
    first = result.text.index("اللاعب")
    assert original[slice(*result.original_span(first, first + 6))] == "الـلاعب"
    second = result.text.index("لاعب", first + 6)
    assert original[slice(*result.original_span(second, second + 4))] == "\ufefbعب"
    # Half of the ligature cannot be split off: the whole ligature is the smallest original span.
    assert original[slice(*result.original_span(second, second + 1))] == "\ufefb"


def test_empty_spans_and_offsets() -> None:
    result = normalize("أَحمد")
    assert result.original_span(0, 0) == (0, 0)
    assert result.original_span(len(result.text), len(result.text)) == (5, 5)
    assert result.original_span(-3, 99) == (0, 5)
    assert result.normalized_offset(0) == 0
    assert result.normalized_offset(2) == 1  # the fatha at 1 produced nothing; ح at 2 is the second letter
    assert normalize("").original_span(0, 3) == (0, 0)


# --- laws ------------------------------------------------------------------------------------------------


@given(texts)
@example("\ufdfa")
@example("ا\u0654\u064e")
@settings(max_examples=400, deadline=None)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once
    assert normalize_text(once) == once


@given(texts)
@settings(max_examples=400, deadline=None)
def test_cluster_wise_normalisation_equals_whole_text_normalisation(text: str) -> None:
    assert normalize(text).text == normalize_text(text)


@given(texts)
@settings(max_examples=400, deadline=None)
def test_offset_map_is_monotone_and_inside_the_original(text: str) -> None:
    result = normalize(text)
    assert len(result.starts) == len(result.ends) == len(result.text)
    assert all(0 <= s < e <= len(text) for s, e in zip(result.starts, result.ends, strict=True))
    assert list(result.starts) == sorted(result.starts)
    assert list(result.ends) == sorted(result.ends)


def _check_span(result, i: int, j: int) -> None:
    """The law for one normalised span [i, j)."""
    text, n = result.original, len(result.text)
    a, b = result.original_span(i, j)
    assert 0 <= a <= b <= len(text)
    back = normalize(text[a:b]).text
    assert result.text[i:j] in back
    on_boundaries = (i in (0, n) or result.starts[i] != result.starts[i - 1]) and (
        j == n or result.starts[j] != result.starts[j - 1]
    )
    if on_boundaries:
        assert back == result.text[i:j]


@given(texts, st.data())
@settings(max_examples=400, deadline=None)
def test_every_span_maps_back_to_an_original_span_that_produces_it(text: str, data: st.DataObject) -> None:
    result = normalize(text)
    i = data.draw(st.integers(0, len(result.text)), label="start")
    j = data.draw(st.integers(i, len(result.text)), label="end")
    _check_span(result, i, j)


def test_every_span_of_a_tricky_text_maps_back() -> None:
    text = "\u200fأَكّدَ الـلاعبُ \ufefbعب ﷲ ٣٫٥\u2067 Straße ﬁN\ufc5e"
    result = normalize(text)
    n = len(result.text)
    for i in range(n + 1):
        for j in range(i, n + 1):
            _check_span(result, i, j)


# --- stems -----------------------------------------------------------------------------------------------


def test_stems_fold_arabic_and_english_inflections() -> None:
    assert stemmed("المعلمون") == stemmed("معلم") == "معلم"
    assert stemmed("الكتاب") == stemmed("كتاب")
    assert stemmed("Trafficking") == stemmed("trafficked") == "traffick"
    assert stemmed("مدرسة") == stemmed("مَدْرَسَة")  # the stem is taken after normalisation
    assert stemmed("running runs") == "run run"
    assert stem_word("run") == "run"


def test_tokens_carry_stems_and_spans_of_the_normalised_text() -> None:
    text = normalize_text("وقالت الأمم المتحدة، إن 3.5 مليون...")
    found = tokens(text)
    assert [t.text for t in found] == ["وقالت", "الامم", "المتحده", "ان", "3", "5", "مليون"]
    assert all(text[t.start : t.end] == t.text for t in found)


def _mapped_tokens(text: str) -> list[tuple[str, str, int, int]]:
    norm = normalize(text)
    return [(t.text, t.stem, *norm.original_span(t.start, t.end)) for t in tokens(norm.text)]


@given(texts)
@settings(max_examples=300, deadline=None)
def test_original_words_equal_tokens_mapped_back(text: str) -> None:
    """Word by word (each chunk normalised once, cached) gives what normalising the whole text gives."""
    assert [(w.text, w.stem, w.start, w.end) for w in original_words(text)] == _mapped_tokens(text)


def test_original_words_of_a_slice_on_real_articles() -> None:
    from tests.conftest import news_sample

    for row in news_sample()[:12]:
        text = row["text"]
        start, end = len(text) // 4, len(text) // 2
        start, end = text.rfind(" ", 0, start) + 1, text.find(" ", end)  # passages start and end on words
        expected = [(f, s, start + a, start + b) for f, s, a, b in _mapped_tokens(text[start:end])]
        assert [(w.text, w.stem, w.start, w.end) for w in original_words(text, start, end)] == expected


ONE_TO_ONE_CHARS = [c for c in map(chr, [*range(0x0000, 0x0700), *range(0x2000, 0x2070)]) if ONE_TO_ONE.fullmatch(c)]


@given(st.text(alphabet=st.sampled_from(ONE_TO_ONE_CHARS), min_size=1, max_size=12))
@example("الإستراتيجيةُ")  # a haraka: not one to one
@example("وأكّد")
@example("“Qallaf”")
@settings(max_examples=400, deadline=None)
def test_the_one_to_one_shortcut_gives_what_normalize_gives(chunk: str) -> None:
    """A chunk of characters that each normalise to one character skips ``normalize``: the same words, spans."""
    norm = normalize(chunk)
    expected = tuple((t.text, t.stem, *norm.original_span(t.start, t.end)) for t in tokens(norm.text))
    assert chunk_words.__wrapped__(chunk) == expected


def test_characters_that_change_length_or_combine_take_the_long_way() -> None:
    for chunk in ("İstanbul", "مُحَمَّد", "ﻻ", "a\u0301", "x\u200fy", "…"):
        assert not ONE_TO_ONE.fullmatch(chunk)
