"""Syndication clusters (``indexer.syndication``) on real news-dev articles and re-edited copies of them."""

from __future__ import annotations

import json
import random
import shutil

import pytest
from click.testing import CliRunner

from indexer.build import delete_articles, index_sources
from indexer.config import DATABASE_FILE
from indexer.passages import sentences
from indexer.records import COPIES_LISTED, Article, Copy, shortlist
from indexer.store import Store
from indexer.syndication import Clusters, containment, copies, settle, shingles
from search_app.cli import cli
from search_app.quotes import check_quote
from search_app.search import Searcher
from tests.conftest import NEWS


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()[:200]]
    return {r["id"]: r["text"] for r in rows if len(r["text"]) > 1500}


def trimmed(text: str, keep: float) -> str:
    parts = [text[a:b] for a, b in sentences(text)]
    return " ".join(parts[: max(2, int(len(parts) * keep))])


def test_shingles_fold_spelling_and_containment_reads_the_shorter() -> None:
    assert shingles("قال الوزير إن الأسعار سترتفع هذا العام") == shingles("قال الوزير ان الاسعار سترتفع هذا العام")
    a, b = shingles("one two three four five six seven"), shingles("one two three four five six seven eight nine")
    assert containment(a, b) == 1.0 and containment(b, a) == 1.0 and containment(a, set()) == 0.0


def test_copies_cluster_with_their_original_and_nothing_else(articles: dict[str, str]) -> None:
    ids = sorted(articles)[:12]
    clusters = Clusters()
    copy_of = {}
    for i, article_id in enumerate(ids[:4]):  # copies arrive first: order does not matter
        text = articles[article_id]
        copy = trimmed(text, 0.7) if i % 2 else trimmed(text, 1.0).replace("ا", "أ") + " (Reporting by the desk)"
        copy_of[article_id] = f"{article_id}~copy"
        clusters.add(copy_of[article_id], copy)
    for article_id in ids:
        clusters.add(article_id, articles[article_id])
    expected = sorted(sorted([a, copy_of[a]]) for a in ids[:4])
    assert clusters.groups() == expected
    assert clusters.cluster_of(ids[0]) == clusters.cluster_of(copy_of[ids[0]]) != clusters.cluster_of(ids[1])
    with pytest.raises(ValueError, match="added already"):
        clusters.add(ids[0], "again")


def test_a_short_piece_inside_longer_stories_does_not_chain_them(articles: dict[str, str]) -> None:
    """A brief that two different long stories both quote whole is held by each, but is a small part of either:
    it joins neither, so the two stories stay apart (a connected component would otherwise chain them)."""
    first, second = (articles[a] for a in sorted(articles)[:2])
    brief = " ".join(trimmed(first, 1.0).split()[:30])
    clusters = Clusters()
    clusters.add("story-1", f"{first} {brief}")
    clusters.add("story-2", f"{second} {brief}")
    assert clusters.add("brief", brief) == []
    assert clusters.groups() == []
    assert copies(shingles(brief), shingles(brief + " " + brief[:40])) and not copies(set(), shingles(brief))


def test_short_texts_are_never_clustered() -> None:
    clusters = Clusters()
    assert clusters.add("a", "Markets close higher") == []
    assert clusters.add("b", "Markets close higher") == []
    assert clusters.groups() == []


# --- clusters kept by an index, and what search and the quote check make of them ------------------------------


@pytest.fixture(scope="module")
def wire(tmp_path_factory, encoder):
    """A real index of six news-dev articles and two re-runs of the first: a trimmed copy in another outlet, dated
    a day earlier, and a re-spelled one a week later. Yields (index dir, source file, rows by id)."""
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    picked = [r for r in rows if r["lang"] == "ar" and 1200 <= len(r["text"]) <= 2500][:5]
    picked += [r for r in rows if r["lang"] == "en" and 1200 <= len(r["text"]) <= 2500][:1]
    for row in picked:
        row.pop("collection", None)
    story = picked[0]
    day = story["date"][:10]
    earlier = f"{day[:8]}{int(day[8:]) - 1:02d}" if int(day[8:]) > 1 else f"{day[:8]}01"
    copies = [
        dict(story, id="wire-trimmed", source="Outlet Wire", date=earlier, url=None, title="",
             text=trimmed(story["text"], 0.75)),
        dict(story, id="wire-respelled", source="Outlet Late", url=None, date=f"{int(day[:4]) + 1}{day[4:]}",
             text=story["text"].replace("ا", "أ").replace("ي", "ى")),
    ]  # fmt: skip
    path = tmp_path_factory.mktemp("wire") / "wire.jsonl"
    everything = [*picked, *copies]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in everything), encoding="utf-8")
    index_dir = path.parent / "index"
    report = index_sources([path], index_dir, progress=False, loaded_encoder=encoder)
    assert report.clustered == len(everything), report.summary()
    return index_dir, path, {r["id"]: r for r in everything}


def stored_groups(index_dir) -> list[list[str]]:
    store = Store(index_dir / DATABASE_FILE)
    try:
        names = store.clusters_of(list(store.iter_article_ids()))
    finally:
        store.close()
    assert None not in names.values()
    by_name: dict[str, list[str]] = {}
    for article_id, name in names.items():
        by_name.setdefault(name, []).append(article_id)
        assert name in names  # a cluster is named after one of its members
    return sorted(sorted(g) for g in by_name.values() if len(g) > 1)


def test_the_index_clusters_as_the_library_does_and_search_shows_one_hit_per_story(wire, encoder) -> None:
    index_dir, _, rows = wire
    story = next(iter(rows))
    in_memory = Clusters()
    for article_id, row in rows.items():
        in_memory.add(article_id, row["text"])
    assert stored_groups(index_dir) == in_memory.groups() == [sorted([story, "wire-respelled", "wire-trimmed"])]

    searcher = Searcher.open(index_dir, encoder=encoder)
    try:
        query = rows[story]["text"][:160]
        hits = searcher.search(query, k=5)
        members = {story, "wire-respelled", "wire-trimmed"}
        shown = [h for h in hits if h.article_id in members]
        assert len(shown) == 1 and len({h.article_id for h in hits}) == len(hits)
        hit = shown[0]
        assert {c.article_id for c in hit.copies} == members - {hit.article_id}
        assert hit.first_published is not None and hit.first_published.article_id == "wire-trimmed"
        outlets = {rows[m]["source"] for m in members} - {hit.source}
        assert set(hit.also_in) == outlets
        every = searcher.search(query, k=5, all_copies=True)
        assert members <= {h.article_id for h in every}
    finally:
        searcher.close()

    out = CliRunner().invoke(cli, ["search", query, "--index", str(index_dir), "-k", "5", "--json"])
    assert out.exit_code == 0, out.output
    first = next(r for r in json.loads(out.output)["results"] if r["article_id"] in members)
    assert first["first_published"] == {"article_id": "wire-trimmed", "source": "Outlet Wire",
                                        "date": rows["wire-trimmed"]["date"], "url": None}  # fmt: skip
    assert sorted(c["article_id"] for c in first["copies"]) == sorted(members - {first["article_id"]})
    text = CliRunner().invoke(cli, ["search", query, "--index", str(index_dir), "-k", "5"]).output
    assert "also in " in text and "first published " in text and "(id wire-trimmed)" in text


def test_the_quote_timeline_runs_from_first_to_last_appearance(wire, encoder) -> None:
    index_dir, _, rows = wire
    story = next(iter(rows))
    sentence = next(rows[story]["text"][a:b] for a, b in sentences(rows[story]["text"]) if b - a > 60)
    searcher = Searcher.open(index_dir, encoder=encoder)
    try:
        check = check_quote(searcher, sentence)
    finally:
        searcher.close()
    found = check.timeline
    assert {m.article_id for m in check.matches} >= {story, "wire-trimmed", "wire-respelled"}
    assert found.first.article_id == "wire-trimmed" and found.last.article_id == "wire-respelled"
    assert [r.source for r in found.outlets][:1] == ["Outlet Wire"] and found.outlets[-1].source == "Outlet Late"
    assert found.appearances == sum(r.articles for r in found.outlets) >= 3
    printed = json.loads(CliRunner().invoke(cli, ["quote", sentence, "--index", str(index_dir), "--json"]).output)
    assert printed["timeline"]["first"]["article_id"] == "wire-trimmed"
    assert printed["timeline"]["outlets"][0] == {"source": "Outlet Wire", "first": rows["wire-trimmed"]["date"],
                                                 "last": rows["wire-trimmed"]["date"], "articles": 1}  # fmt: skip


def test_clusters_follow_deletions_edits_and_an_index_from_before_them(wire, encoder, tmp_path) -> None:
    source_dir, path, rows = wire
    index_dir = tmp_path / "index"
    shutil.copytree(source_dir, index_dir)
    story = next(iter(rows))
    delete_articles(index_dir, [story])  # the two copies still share their text with each other
    assert stored_groups(index_dir) == [["wire-respelled", "wire-trimmed"]]

    other = rows[list(rows)[1]]["text"]
    edited = [dict(r, text=other + " (Reporting by the desk)") if r["id"] == "wire-trimmed" else r
              for r in rows.values() if r["id"] != story]  # fmt: skip
    changed = tmp_path / "changed.jsonl"
    changed.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in edited), encoding="utf-8")
    index_sources([changed], index_dir, progress=False, loaded_encoder=encoder)
    assert stored_groups(index_dir) == [sorted([list(rows)[1], "wire-trimmed"])]  # it left one story for another

    store = Store(index_dir / DATABASE_FILE)  # an index built before clusters: none settled, no bands
    with store.transaction():
        store.db.execute("UPDATE articles SET cluster = NULL")
        store.db.execute("DELETE FROM article_bands")
    store.close()
    report = index_sources([changed], index_dir, progress=False, loaded_encoder=encoder)
    assert (report.indexed, report.clustered) == (0, len(edited)), report.summary()
    assert stored_groups(index_dir) == [sorted([list(rows)[1], "wire-trimmed"])]


def test_settling_in_small_chunks_gives_the_same_clusters(articles: dict[str, str], tmp_path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    texts = dict(articles)
    for article_id in sorted(articles)[:6]:
        texts[f"{article_id}~a"] = trimmed(articles[article_id], 0.8)
        texts[f"{article_id}~b"] = trimmed(articles[article_id], 1.0).replace("ه", "ة")
    with store.transaction():
        for article_id, text in sorted(texts.items(), reverse=True):
            store.put_article(Article(article_id, text), "", "")
    assert settle(store, chunk=5) == len(texts)
    in_memory = Clusters()
    for article_id, text in texts.items():
        in_memory.add(article_id, text)
    names = store.clusters_of(sorted(texts))
    groups: dict[str, list[str]] = {}
    for article_id, name in names.items():
        groups.setdefault(name, []).append(article_id)
        assert name == min(g for g, n in names.items() if n == name)
    assert sorted(sorted(g) for g in groups.values() if len(g) > 1) == in_memory.groups()
    assert len(in_memory.groups()) >= 6
    store.close()


def test_a_story_run_by_many_lists_its_earliest_copies_and_every_outlet(articles: dict[str, str], tmp_path) -> None:
    """A cluster of 130: a hit lists the 50 earliest copies (undated last) and the earliest of each outlet beyond
    them, read through the cluster indexes; the count says how many there are; ``shortlist`` agrees."""
    store = Store(tmp_path / "s.sqlite3")
    text = articles[sorted(articles)[0]]
    rng = random.Random(3)
    rows = []
    for i in range(130):
        outlet = {128: "Undated Wire", 129: "Late Wire"}.get(i, f"Outlet {i % 4}")
        day = None if i % 17 == 0 or i == 128 else f"2020-{1 + i % 12:02d}-{1 + rng.randrange(28):02d}"
        day = "2021-12-31" if i == 129 else day
        rows.append(Article(f"copy-{i:03d}", text, date=day, source=outlet))
    with store.transaction():
        for article in rows:
            store.put_article(article, "", "")
    settle(store)
    hit = "copy-007"
    others = sorted((Copy(a.id, a.title, a.source, a.date, a.url, a.lang) for a in rows if a.id != hit),
                    key=lambda c: (c.date is None, c.date or "", c.article_id))  # fmt: skip
    listed = store.copies([hit])[hit]
    assert listed == shortlist(others) and len(listed) == COPIES_LISTED + 2
    assert [c.source for c in listed[-2:]] == ["Late Wire", "Undated Wire"] and all(c.date for c in listed[:-1])
    assert store.copy_counts([hit, "nowhere"]) == {hit: 129}
    assert store.copies([hit], limit=200)[hit] == others  # undated copies last
    plan = " ".join(str(r[-1]) for r in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM articles WHERE cluster = ? AND id != ? AND date IS NOT NULL "
        "ORDER BY date, id LIMIT 50", ("copy-000", hit)))  # fmt: skip
    assert "articles_cluster_date" in plan
    store.close()


def test_the_page_shows_the_copies_and_the_timeline(wire, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP, TIMEOUT, cards

    index_dir, _, rows = wire
    story = next(iter(rows))
    monkeypatch.setenv("SAHAFA_INDEX", str(index_dir))
    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    page.run()
    page.text_input(key="q").input(rows[story]["text"][:160]).run()
    assert not page.exception and not page.error
    card = next(c for c in cards(page) if "sahafa-copies" in c)
    assert "Also in " in card and "first published " in card and "Outlet Wire" in card
    expander = next(e for e in page.expander if e.label == "2 other copies of this story")
    opened = next(b for b in expander.button if b.key.endswith("-wire-trimmed"))
    opened.click().run()
    article = next(m.value for m in page.markdown if m.value.startswith('<div class="sahafa-article"'))
    assert "Outlet Wire" in article

    sentence = next(rows[story]["text"][a:b] for a, b in sentences(rows[story]["text"]) if b - a > 60)
    page = AppTest.from_file(APP, default_timeout=TIMEOUT)
    page.query_params["page"] = "quote"
    page.run()
    page.text_area(key="quote").input(sentence).run()
    timeline = next(m.value for m in page.markdown if m.value.startswith('<div class="sahafa-timeline'))
    assert "First " in timeline and "Outlet Wire" in timeline and "Outlet Late" in timeline
