"""Syndication clusters (``indexer.syndication``) on real news-dev articles and re-edited copies of them."""

from __future__ import annotations

import json

import pytest

from indexer.passages import sentences
from indexer.syndication import Clusters, containment, shingles
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
    copies = {}
    for i, article_id in enumerate(ids[:4]):  # copies arrive first: order does not matter
        text = articles[article_id]
        copy = trimmed(text, 0.7) if i % 2 else trimmed(text, 1.0).replace("ا", "أ") + " (Reporting by the desk)"
        copies[article_id] = f"{article_id}~copy"
        clusters.add(copies[article_id], copy)
    for article_id in ids:
        clusters.add(article_id, articles[article_id])
    expected = sorted(sorted([a, copies[a]]) for a in ids[:4])
    assert clusters.groups() == expected
    assert clusters.cluster_of(ids[0]) == clusters.cluster_of(copies[ids[0]]) != clusters.cluster_of(ids[1])
    with pytest.raises(ValueError, match="added already"):
        clusters.add(ids[0], "again")


def test_short_texts_are_never_clustered() -> None:
    clusters = Clusters()
    assert clusters.add("a", "Markets close higher") == []
    assert clusters.add("b", "Markets close higher") == []
    assert clusters.groups() == []
