"""indexer.passages: sentence splitting in Arabic and English, and passages that cover real articles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.ingest import read_sources
from indexer.passages import PassageSettings, sentences, split_passages
from indexer.records import Article, Passage

ROOT = Path(__file__).resolve().parents[1]
NEWS_DEV = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"


def sentence_texts(text: str) -> list[str]:
    return [text[a:b] for a, b in sentences(text)]


def assert_covers(article: Article, passages: list[Passage]) -> None:
    """The laws: passages are slices of the text, in order, on word boundaries, covering every word."""
    text = article.text
    covered = bytearray(len(text))
    for ordinal, p in enumerate(passages):
        assert (p.article_id, p.ordinal) == (article.id, ordinal)
        assert p.text == text[p.start : p.end]
        assert 0 <= p.start < p.end <= len(text)
        assert not text[p.start].isspace() and not text[p.end - 1].isspace()
        assert p.start == 0 or text[p.start - 1].isspace(), f"passage {ordinal} starts inside a word"
        assert p.end == len(text) or text[p.end].isspace(), f"passage {ordinal} ends inside a word"
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    starts = [p.start for p in passages]
    ends = [p.end for p in passages]
    assert starts == sorted(set(starts)), "starts must be strictly increasing"
    assert ends == sorted(set(ends)), "ends must be strictly increasing"
    uncovered = [i for i, c in enumerate(text) if not c.isspace() and not covered[i]]
    assert uncovered == []


def assert_overlap_is_one_sentence(text: str, passages: list[Passage]) -> None:
    """Where consecutive passages overlap, the overlap is the tail of one sentence of the earlier passage."""
    spans = sentences(text)
    for before, after in zip(passages, passages[1:], strict=False):
        if after.start < before.end:
            assert any(a <= after.start and before.end <= b for a, b in spans), (before, after)


# --- sentences -------------------------------------------------------------------------------------------


def test_arabic_sentences_end_at_arabic_punctuation_and_newlines() -> None:
    text = (
        "هل تعود المفاوضات؟ قال الوزير: نعم! وأضاف أن الاجتماع المقبل في الرياض؛ وسيبحث الملف… "
        "ثم غادر.\nالعنوان الثاني\nوبلغ النمو 3.5 بالمئة و٢٫٥ في المئة."
    )
    assert sentence_texts(text) == [
        "هل تعود المفاوضات؟",
        "قال الوزير: نعم!",
        "وأضاف أن الاجتماع المقبل في الرياض؛",
        "وسيبحث الملف…",
        "ثم غادر.",
        "العنوان الثاني",
        "وبلغ النمو 3.5 بالمئة و٢٫٥ في المئة.",
    ]


def test_english_sentences_keep_numbers_abbreviations_and_addresses_whole() -> None:
    text = (
        "Mr. Smith paid $3.5 billion for the U.S. unit on Jan. 5, the company said. "
        'Details are at www.example.com today. "We are pleased," he said.  Shares rose 1.5 pct!'
    )
    assert sentence_texts(text) == [
        "Mr. Smith paid $3.5 billion for the U.S. unit on Jan. 5, the company said.",
        "Details are at www.example.com today.",
        '"We are pleased," he said.',
        "Shares rose 1.5 pct!",
    ]


def test_sentence_ends_after_closing_quotes_and_brackets() -> None:
    assert sentence_texts("قال «انتهى الأمر.» ثم خرج (بسرعة!) وعاد.") == [
        "قال «انتهى الأمر.»",
        "ثم خرج (بسرعة!)",
        "وعاد.",
    ]


def test_sentences_of_blank_text() -> None:
    assert sentences("") == []
    assert sentences(" \n\n \t") == []


# --- passages on constructed articles --------------------------------------------------------------------


def numbered_sentences(count: int, words: int) -> str:
    return " ".join(" ".join(f"w{i}x{j}" for j in range(words - 1)) + f" end{i}." for i in range(count))


def test_default_settings() -> None:
    assert PassageSettings() == PassageSettings(min_words=60, max_words=160, overlap_sentences=1)


def test_passages_pack_sentences_and_repeat_one_sentence() -> None:
    article = Article(id="a", text=numbered_sentences(14, 25))
    passages = split_passages(article)
    # 6 sentences of 25 words fill a passage (150 ≤ 160); the next passage repeats the sixth.
    assert [(p.text.split()[0], p.text.split()[-1]) for p in passages] == [
        ("w0x0", "end5."),
        ("w5x0", "end10."),
        ("w10x0", "end13."),
    ]
    assert [len(p.text.split()) for p in passages] == [150, 150, 100]
    assert_covers(article, passages)
    assert_overlap_is_one_sentence(article.text, passages)


def test_without_overlap_passages_meet_end_to_end() -> None:
    article = Article(id="a", text=numbered_sentences(12, 25))
    passages = split_passages(article, PassageSettings(overlap_sentences=0))
    assert [len(p.text.split()) for p in passages] == [150, 150]
    assert passages[0].end < passages[1].start
    assert_covers(article, passages)


def test_short_tail_joins_the_previous_passage() -> None:
    article = Article(id="a", text=numbered_sentences(7, 25))  # 175 words: 150 + a 25-word tail
    passages = split_passages(article)
    assert len(passages) == 1
    assert passages[0].text == article.text


def test_a_sentence_longer_than_max_words_is_cut_between_words() -> None:
    text = " ".join(f"كلمة{i}" for i in range(400)) + "."
    article = Article(id="long", text=text)
    passages = split_passages(article)
    assert [len(p.text.split()) for p in passages] == [160, 160, 80]
    assert_covers(article, passages)


def test_short_and_empty_articles() -> None:
    article = Article(id="s", text="  خبر قصير جدا.\n")
    assert split_passages(article) == [Passage("s", 0, 2, 15, "خبر قصير جدا.")]
    assert split_passages(Article(id="e", text="")) == []


# --- passages on real articles ---------------------------------------------------------------------------


def test_seed_articles() -> None:
    articles = list(read_sources([ROOT / "seeds"], on_bad=pytest.fail))
    assert len(articles) == 2
    for article in articles:
        passages = split_passages(article)
        assert len(passages) >= 2
        assert_covers(article, passages)
        assert_overlap_is_one_sentence(article.text, passages)
        assert all(30 <= len(p.text.split()) <= 190 for p in passages)


def test_real_news_articles_are_covered_by_passages_of_60_to_160_words() -> None:
    rows = [json.loads(line) for line in NEWS_DEV.read_text(encoding="utf-8").splitlines()][::4]
    sizes: list[int] = []
    for row in rows:
        article = Article(id=row["id"], text=row["text"], lang=row["lang"])
        passages = split_passages(article)
        assert_covers(article, passages)
        assert_overlap_is_one_sentence(article.text, passages)
        if len(passages) > 1:
            sizes += [len(p.text.split()) for p in passages]
    # Packing allows a short tail to join (up to max + min/2 words); no passage of a long article is tiny.
    assert min(sizes) >= 30 and max(sizes) <= 190
    sizes.sort()
    assert 60 <= sizes[len(sizes) // 10] and sizes[len(sizes) // 2] <= 160


# --- the law on any text ---------------------------------------------------------------------------------

WORDS = ["الوزير", "قالَ", "3.5", "٢٫٥", "U.S.", "Mr.", "news", "«نعم»", "(x)", "ﻻ", "a-b", "co."]
ENDS = [".", "؟", "!", "؛", "…", "?!", ".»", ""]
SEPARATORS = [" ", " ", " ", "\n", "\n\n", "  ", "\t"]


@st.composite
def article_texts(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 80))):
        parts.append(draw(st.sampled_from(WORDS)) + draw(st.sampled_from(ENDS)))
        parts.append(draw(st.sampled_from(SEPARATORS)))
    return draw(st.sampled_from(["", " ", "\n"])) + "".join(parts)


@given(
    article_texts() | st.text(alphabet="اب cd.؟!\n 3", max_size=120),
    st.integers(1, 12),
    st.integers(1, 20),
    st.integers(0, 2),
)
@settings(max_examples=300, deadline=None)
def test_passages_cover_any_text(text: str, min_words: int, max_words: int, overlap: int) -> None:
    article = Article(id="p", text=text)
    passages = split_passages(article, PassageSettings(min_words=min_words, max_words=max_words,
                                                       overlap_sentences=overlap))
    assert_covers(article, passages)
    if overlap == 1:
        assert_overlap_is_one_sentence(text, passages)
    assert all(len(p.text.split()) <= max_words + min_words for p in passages)
    assert bool(passages) == bool(re.search(r"\S", text))


def test_two_sentences_of_overlap() -> None:
    article = Article(id="a", text=numbered_sentences(12, 25))
    passages = split_passages(article, PassageSettings(overlap_sentences=2))
    assert [(p.text.split()[0], p.text.split()[-1]) for p in passages] == [
        ("w0x0", "end5."),
        ("w4x0", "end9."),
        ("w8x0", "end11."),
    ]
    assert_covers(article, passages)


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("The minister said prices rose. Mr. Smith met Dr. Jones. " * 20_000, 40_000),
        ("word" + "." * 1_000_000 + "word", 1),
        ("." * 1_000_000 + "x", 1),
        (". " * 500_000, 500_000),
    ],
    ids=["1 MB of prose", "a run of dots inside a word", "a run of dots before a letter", "dot space"],
)
def test_sentence_splitting_is_linear_on_megabyte_inputs(text: str, count: int) -> None:
    """Quadratic splitting took 4.5 s on 99 KB of prose and 5.9 s on 20,000 dots; these take well under a second
    each now, and would take hours again if it came back."""
    assert len(sentences(text)) == count
