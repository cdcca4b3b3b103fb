"""Who said it (``indexer.speakers``): the rules on real sentences, the labelled set, and the speaker stored per
sentence, filtered on and counted in a real index through the library, the CLI, the API and the quote check."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from indexer.build import index_sources
from indexer.config import DATABASE_FILE
from indexer.errors import BadQuery
from indexer.filters import Filters
from indexer.sentences import split_sentences
from indexer.speakers import attribute, english_attribution, names_match, speaker_key
from indexer.speakers_ar import arabic_attribution
from indexer.store import Store
from search_app.api import create_app
from search_app.cli import cli
from search_app.coverage import coverage
from search_app.quotes import check_quote
from search_app.search import Searcher
from tests.conftest import NEWS, ROOT, SEEDS

SEED = "000_9ff4965ff1aa788a"
SAID = "وقال القلاف خلال مشاركته في ندوة في الرياض، أن الاتجار بالأشخاص يعد من أخطر الموضوعات التي تمس الإنسانية"


@pytest.mark.parametrize(
    ("sentence", "speaker", "title"),
    [
        ("قالت المتحدثة باسم البيت الأبيض سارة ساندرز، إن المشاورات مستمرة.", "سارة ساندرز",
         "المتحدثة باسم البيت الأبيض"),
        ("قال السياسي الفلسطيني، مصطفى البرغوثي، إن الرئيس يجعل من بلاده شريكا.", "مصطفى البرغوثي",
         "السياسي الفلسطيني"),
        ("وقالت الوزارة إن مركبا لمهاجرين كان بصدد الغرق.", "الوزارة", None),
        ("وبحسب رويترز، قالت المؤسسة في بيان، إن الخزان تعرض لأضرار.", "المؤسسة", None),
        ("ونقلت الصحيفة عن مسؤول كبير في الإدارة أن المجموعة تضم عاملين.", "مسؤول كبير في الإدارة", None),
        ("وكانت وزارة الدفاع التونسية أعلنت في آذار أن خفر السواحل أنقذوا 120 مهاجرا.", "وزارة الدفاع التونسية",
         None),
        ("وقال بومبيو للصحفيين إن المناقشات ستكون أوسع.", "بومبيو", None),
        ("Treasury Secretary James Baker said the United States was not seeking a veto.", "James Baker",
         "Treasury Secretary"),
        ('"There is no clear proposal," said Azusa Hayashi, Director of the Foreign Ministry division.',
         "Azusa Hayashi", "Director of the Foreign Ministry division"),
        ("The issues are for settlement April 27, the office said.", "the office", None),
        ("Manuel Rico, a consultant with the Group of Sugar Exporting Countries (GEPLACEA), told Reuters.",
         "Manuel Rico", "a consultant with the Group of Sugar Exporting Countries"),
    ],
)  # fmt: skip
def test_a_reporting_verb_gives_the_speaker_and_the_title(sentence: str, speaker: str, title: str | None) -> None:
    found = attribution_of(sentence)
    assert found is not None and (found.speaker, found.title) == (speaker, title)


@pytest.mark.parametrize(
    "sentence",
    [
        "وتعادل هادرسلفيد مع سوانسي سيتي سلبا.",
        "وقررت الهيئة العامة للطيران المدني إغلاق مطار صلالة لمدة 24 ساعة قابلة للتمديد وفقا للتطورات.",
        "It was said that the market would open higher.",
        "McAdoo was traveling and could not be reached for comment.",
    ],
)
def test_a_sentence_that_reports_nobody_has_no_speaker(sentence: str) -> None:
    assert attribution_of(sentence) is None


def attribution_of(sentence: str):
    return (arabic_attribution if "\u0600" <= sentence[0] <= "\u06ff" else english_attribution)(sentence)


def test_the_seed_names_al_qallaf_in_full_and_a_verb_without_subject_carries_him() -> None:
    """The issue's example: «وقال … القلاف» is هاشم القلاف, whom the article's first sentence names in full."""
    text = (SEEDS / f"{SEED}.txt").read_text(encoding="utf-8")
    spans = split_sentences(text)
    said = dict(zip((text[a:b] for a, b in spans), attribute(text, spans, "ar"), strict=True))
    first = said[text[spans[0][0] : spans[0][1]]]
    assert first.speaker == "هاشم القلاف" and first.title.startswith("الوكيل المكلف بوزارة العدل، نائب رئيس اللجنة")
    quoted = next(a for s, a in said.items() if s.startswith("وقال القلاف"))
    assert (quoted.speaker, quoted.carried) == ("هاشم القلاف", False)
    carried = next(a for s, a in said.items() if s.startswith("وأشار إلى"))
    assert (carried.speaker, carried.carried) == ("هاشم القلاف", True)


def test_names_fold_and_a_surname_matches_the_full_name() -> None:
    assert speaker_key("  Dr. Saeed «Sarahna» ") == "dr saeed sarahna" == speaker_key("DR SAEED SARAHNA")
    assert speaker_key("هاشم القلاف") == speaker_key("هاشِم القلّاف")
    assert names_match(speaker_key("هاشم القلاف"), speaker_key("القلاف"))
    assert not names_match(speaker_key("هاشم القلاف"), speaker_key("هاشم"))
    assert not names_match(speaker_key("Smithson"), speaker_key("son"))
    with pytest.raises(BadQuery, match="not a name"):
        Filters.make(speaker="«»")


def test_the_labelled_set_is_news_dev_as_it_is() -> None:
    """Every labelled sentence is an indexed sentence of its news-dev article, word for word."""
    rows = [json.loads(line) for line in (ROOT / "bench" / "speakers.jsonl").read_text(encoding="utf-8").splitlines()]
    articles = {}
    for line in NEWS.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        articles[article["id"]] = article
    assert len(rows) >= 100 and {r["lang"] for r in rows} == {"ar", "en"}
    for row in rows:
        text = articles[row["article_id"]]["text"]
        assert (row["start"], row["end"]) in split_sentences(text)
        assert text[row["start"] : row["end"]] == row["text"] and row["split"] in ("tuning", "tuning-2", "held-out")
        assert row["speaker"] is None or (isinstance(row["speaker"], list) and all(row["speaker"]))
    held = [r for r in rows if r["split"] == "held-out"]
    assert len(held) >= 60 and not {r["article_id"] for r in held} & {r["article_id"] for r in rows if r not in held}


# --- the speaker in a real index ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searcher(built_index, encoder):
    s = Searcher.open(built_index, encoder=encoder)
    yield s
    s.close()


def test_the_index_stores_who_each_sentence_quotes(built_index) -> None:
    store = Store(built_index / DATABASE_FILE)
    try:
        rows = store.db.execute(
            "SELECT speaker, speaker_title, speaker_key FROM sentences WHERE article_id = ? AND speaker IS NOT NULL",
            (SEED,),
        ).fetchall()
        pending = store.articles_without_speakers(1, 10)
    finally:
        store.close()
    assert pending == [] and rows and {r[0] for r in rows} == {"هاشم القلاف"}
    assert {r[2] for r in rows} == {speaker_key("هاشم القلاف")}


def test_a_speaker_filter_keeps_what_quotes_them(searcher) -> None:
    everyone = searcher.search("الاتجار بالأشخاص", k=10)
    quoted = searcher.search("الاتجار بالأشخاص", k=10, speaker="القلاف")
    assert len(everyone) > len(quoted) >= 1 and quoted[0].article_id == SEED
    for hit in quoted:
        assert any(names_match(speaker_key(s), speaker_key("القلاف")) for s in hit.speakers), hit.article_id
        spans = searcher.retrieval.speakers_between(hit.article_id, hit.best.start, hit.best.end)
        assert any(s.speaker == "هاشم القلاف" for s in spans)
    assert searcher.search("الاتجار بالأشخاص", k=10, speaker="nobody of that name") == []
    assert [h.article_id for h in searcher.search("الاتجار بالأشخاص", k=10, speaker="هاشِم القلّاف")] == [
        h.article_id for h in quoted
    ]


def test_the_speaker_facet_counts_who_the_matches_quote(searcher) -> None:
    found = coverage(searcher, "الاتجار بالأشخاص")
    speakers = dict(found.speakers)
    assert speakers.get("هاشم القلاف", 0) >= 1
    assert all(n <= found.articles for n in speakers.values())
    narrowed = coverage(searcher, "الاتجار بالأشخاص", speaker="القلاف")
    assert set(dict(narrowed.speakers)) == {"هاشم القلاف"} and 1 <= narrowed.articles < found.articles


def test_the_quote_check_says_who_said_it(searcher) -> None:
    check = check_quote(searcher, SAID)
    assert check.verdict == "verbatim"
    best = check.matches[0]
    assert (best.article_id, best.speaker) == (SEED, "هاشم القلاف")


def test_cli_and_api_filter_and_count_alike(built_index, searcher) -> None:
    args = ["search", "الاتجار بالأشخاص", "--index", str(built_index), "--speaker", "القلاف", "--facets",
            "speaker", "--json"]  # fmt: skip
    printed = CliRunner().invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    line = json.loads(printed.output)
    assert line["results"][0]["speakers"] == ["هاشم القلاف"] and line["facets"]["speaker"] == {"هاشم القلاف": 1}
    with TestClient(create_app(lambda: searcher)) as client:
        answer = client.get("/search", params={"q": "الاتجار بالأشخاص", "speaker": "القلاف", "facets": "speaker"})
        assert answer.status_code == 200 and answer.json() == line
        quote = client.post("/quote", json={"text": SAID}).json()
        assert quote["matches"][0]["speaker"] == "هاشم القلاف"
    text = CliRunner().invoke(cli, ["quote", SAID, "--index", str(built_index)]).output
    assert "said by هاشم القلاف" in text


def test_an_index_from_before_speakers_gets_them_on_the_next_run(built_index, tmp_path, encoder) -> None:
    copy = tmp_path / "index"
    shutil.copytree(built_index, copy)
    store = Store(copy / DATABASE_FILE)
    with store.transaction():
        store.db.execute("UPDATE sentences SET speaker = NULL, speaker_title = NULL, speaker_key = NULL")
        store.db.execute("UPDATE articles SET speaker_version = 0")
    store.close()
    report = index_sources([SEEDS], copy, progress=False, loaded_encoder=encoder)
    assert report.indexed == 0
    searcher = Searcher.open(copy, encoder=encoder)
    try:
        assert searcher.search("الاتجار بالأشخاص", k=3, speaker="القلاف")[0].article_id == SEED
    finally:
        searcher.close()


def test_the_page_filters_on_a_speaker_and_says_who_said_the_quote(built_index, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, TIMEOUT, cards

    monkeypatch.setenv("SAHAFA_INDEX", str(built_index))
    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    page.run()
    page.text_input(key="q").input("الاتجار بالأشخاص").run()
    assert not page.exception and not page.error
    everyone = cards(page)
    button = next(b for b in page.button if b.label.startswith("هاشم القلاف ("))
    button.click().run()
    assert page.text_input(key="speaker").value == "هاشم القلاف"
    assert page.query_params["speaker"] in ("هاشم القلاف", ["هاشم القلاف"])
    quoting = cards(page)
    assert 1 <= len(quoting) < len(everyone) and all("Quotes: " in card and "القلاف" in card for card in quoting)
    next(b for b in page.button if b.key == "speaker-any").click().run()
    assert page.text_input(key="speaker").value == "" and len(cards(page)) == len(everyone)

    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    page.query_params["page"] = "quote"
    page.run()
    page.text_area(key="quote").input(SAID).run()
    source = next(c for c in cards(page) if "sahafa-copies" in c)
    assert "Said by <b>هاشم القلاف" in source
