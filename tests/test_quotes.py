"""Quote checking on a real index: each verdict, the evidence, and the earliest source first."""

from __future__ import annotations

import json
import random
from difflib import SequenceMatcher

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_app import quotes
from search_app.quotes import _best_window, check_quote
from search_app.search import Searcher

SEED = "000_9ff4965ff1aa788a"
SENTENCE = "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"


@pytest.fixture(scope="module")
def searcher(built_index, encoder):
    s = Searcher.open(built_index, encoder=encoder)
    yield s
    s.close()


def test_verbatim(searcher):
    check = check_quote(searcher, SENTENCE)
    assert check.verdict == "verbatim"
    match = check.matches[0]
    assert (match.article_id, match.text) == (SEED, SENTENCE)
    article = searcher.retrieval.article(SEED)
    assert article.text[match.start : match.end] == SENTENCE


def test_respelled_arabic_is_normalised_and_the_span_is_the_original_wording(searcher):
    respelled = (
        "«وَقَالَ القلاف خلال مشاركتة فى ندوة فى الرياض ان الإتجار بالاشخاص يُعد من اخطر الموضوعات التى تمس الانسانية»"
    )
    check = check_quote(searcher, respelled)
    assert check.verdict == "normalised"
    assert check.matches[0].article_id == SEED
    assert check.matches[0].text == SENTENCE


def test_close_lists_the_changed_words(searcher):
    changed = "وقال القلاف أثناء مشاركته في مؤتمر في الرياض، أن الاتجار بالأشخاص يعد من أخطر القضايا التي تمس الإنسانية"
    check = check_quote(searcher, changed)
    assert check.verdict == "close"
    match = check.matches[0]
    assert match.article_id == SEED and 0.6 <= match.similarity < 1
    replaced = [(d.quote, d.source) for d in match.diff if d.op == "replace"]
    assert replaced == [("أثناء", "خلال"), ("مؤتمر", "ندوة"), ("القضايا", "الموضوعات")]


def test_english_rendering_is_a_translation_of_part_of_an_arabic_sentence(searcher):
    check = check_quote(
        searcher,
        "Al-Qallaf said during a seminar in Riyadh that human trafficking is one of the most dangerous "
        "issues affecting humanity",
    )
    assert check.verdict == "translation"
    match = check.matches[0]
    assert (match.article_id, match.lang) == (SEED, "ar")
    # the clauses that say it, not the whole sentence (which goes on about what states do)
    assert match.text == "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"  # noqa: E501


def test_not_found(searcher):
    assert check_quote(searcher, "the moon is made of green cheese, said nobody ever").verdict == "not found"
    assert check_quote(searcher, "").verdict == "not found"
    assert check_quote(searcher, '"" ... ؟').verdict == "not found"
    assert check_quote(searcher, "\udcff \ud800").verdict == "not found"  # lone surrogates, as JSON can carry


def test_earliest_dated_source_comes_first(tmp_path, encoder):
    from indexer.build import index_sources

    quote = "the committee will publish its findings before the end of the year"
    rows = [
        {"id": "late", "date": "2021-03-04", "source": "Later Times", "text": f"Officials said {quote}. More text."},
        {"id": "undated", "source": "No Date Daily", "text": f"He said {quote}."},
        {"id": "early", "date": "2019-11-02", "source": "Early Post", "text": f"The minister said {quote}."},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    index_sources([path], tmp_path / "index", progress=False, loaded_encoder=encoder)
    searcher = Searcher.open(tmp_path / "index", encoder=encoder)
    check = check_quote(searcher, quote)
    assert check.verdict == "verbatim"
    assert [(m.article_id, m.source, m.date) for m in check.matches] == [
        ("early", "Early Post", "2019-11-02"),
        ("late", "Later Times", "2021-03-04"),
        ("undated", "No Date Daily", None),
    ]


def _brute_force(forms: list[str], quote: list[str]) -> int:
    """The most quote words any window of the article holds in order: every start, aligned word by word."""
    width = len(quote) + max(2, len(quote) // 4)
    return max(
        sum(b.size for b in SequenceMatcher(None, quote, forms[s : s + width], autojunk=False).get_matching_blocks())
        for s in range(max(1, len(forms)))
    )


WORDS = st.sampled_from([f"w{i}" for i in range(25)])


@settings(max_examples=300, deadline=None)
@given(forms=st.lists(WORDS, max_size=300), quote=st.lists(WORDS, min_size=1, max_size=20), data=st.data())
def test_best_window_finds_the_best_alignment_anywhere(forms, quote, data):
    """A law against brute force (without the cap on alignments, which only text built to defeat the bound
    reaches); the quote, with words dropped, is also planted at a random place."""
    if forms and data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(forms)))
        edited = [w for w in quote if data.draw(st.integers(0, 5))]
        forms = forms[:at] + edited + forms[at:]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quotes, "WINDOW_CANDIDATES", 10**9)
        found = _best_window(forms, quote)
    best = _brute_force(forms, quote)
    assert (found[2] if found else 0) == best
    if found:
        lo, hi, matched = found
        width = len(quote) + max(2, len(quote) // 4)
        assert 0 <= lo < hi <= len(forms) and hi - lo <= width


def test_a_long_quote_deep_in_a_long_article_is_found_whole():
    """The old search looked at the first 50 occurrences of each word and the 400 earliest anchors: a 40-word
    quote at word 2,000 of a 2,500-word article of common words got 7 of its 40 words matched."""
    rng = random.Random(7)
    common = [f"w{i}" for i in range(40)]
    forms = [rng.choice(common) for _ in range(2500)]
    quote = [rng.choice(common) for _ in range(40)]
    forms[2000:2040] = quote
    assert _best_window(forms, quote) == (2000, 2040, 40)


def test_normalised_quote_near_the_end_of_a_long_article(tmp_path, encoder):
    """Only the candidate passages (and a margin) are normalised, wherever they sit in the article."""
    from indexer.build import index_sources

    rng = random.Random(3)
    filler = " ".join(
        f"Sentence {i} mentions {rng.choice(['trade', 'weather', 'football', 'markets'])} and nothing else."
        for i in range(3000)
    )
    quote = "The ambassador insisted that the border crossing would reopen within three weeks"
    text = f"{filler} {quote.replace('within', 'within  ').upper()}. {filler[:2000]}"
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"id": "long", "text": text, "date": "2020-01-01"}) + "\n", encoding="utf-8")
    index_sources([path], tmp_path / "index", progress=False, loaded_encoder=encoder)
    searcher = Searcher.open(tmp_path / "index", encoder=encoder)
    try:
        check = check_quote(searcher, quote)
    finally:
        searcher.close()
    assert check.verdict == "normalised"
    match = check.matches[0]
    assert match.text == quote.replace("within", "within  ").upper()
    assert text[match.start : match.end] == match.text and match.start > len(filler)


def test_a_window_cut_short_by_the_end_can_align_best():
    """SequenceMatcher aligns greedily: here the last, shorter window holds w1 w2 w1 in order, the full one only
    two of them (found by the property above)."""
    assert _best_window(["w2", "w1", "w0", "w2", "w1"], ["w1", "w2", "w1"])[2] == 3
