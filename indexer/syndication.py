"""Syndication: wire copy re-run by many outlets with small edits, grouped into clusters of near-duplicates.

Each article becomes the set of its normalised word 5-shingles (``indexer.normalize``: re-spelled Arabic, harakat
and tatweel fold away before shingling). MinHash signatures in an LSH index (``datasketch``) find candidates
whose estimated Jaccard similarity is above ``LSH_THRESHOLD``; a candidate joins when the shingles the two
share cover at least ``CONTAINMENT`` of the shorter one's. Containment, not Jaccard, decides: an outlet that
runs the first two thirds of a wire story shares most of its text with the original but only two thirds of the
union. Clusters are the connected components of the joined pairs (union-find), built incrementally: ``add`` one
article at a time, in any order.

``make bench-syndication`` measures precision and recall of the pairs on news-dev with injected re-edited
copies (trimmed paragraphs, changed words and a credit line, re-spelled Arabic).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer.normalize import normalize_text, tokens

SHINGLE = 5  # words per shingle
PERMUTATIONS = 128
LSH_THRESHOLD = 0.3  # estimated Jaccard for a candidate pair: low, so that trimmed copies are candidates
CONTAINMENT = 0.75  # of the shorter article's shingles, held by the other, for a pair to join
MIN_SHINGLES = 8  # shorter texts (a headline, a caption) are never clustered: too little to tell copies apart


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """The normalised word ``size``-grams of ``text`` (empty when it has fewer words)."""
    words = [t.text for t in tokens(normalize_text(text))]
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def containment(a: set[str], b: set[str]) -> float:
    """How much of the smaller of two shingle sets the other holds (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


@dataclass
class Clusters:
    """Near-duplicate clusters over the articles ``add``-ed so far."""

    threshold: float = LSH_THRESHOLD
    join: float = CONTAINMENT
    _lsh: object = field(default=None, repr=False)
    _shingles: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _parent: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        try:
            from datasketch import MinHashLSH
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise ImportError("syndication clusters need datasketch: pip install datasketch") from exc
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=PERMUTATIONS)

    def add(self, article_id: str, text: str) -> list[str]:
        """Add one article; returns the earlier articles it was joined to (empty: a cluster of its own so far)."""
        from datasketch import MinHash

        if article_id in self._parent:
            raise ValueError(f"article {article_id!r} was added already")
        self._parent[article_id] = article_id
        found = shingles(text)
        if len(found) < MIN_SHINGLES:
            return []
        signature = MinHash(num_perm=PERMUTATIONS, seed=1)
        signature.update_batch([s.encode("utf-8") for s in found])
        joined = sorted(
            other for other in self._lsh.query(signature) if containment(found, self._shingles[other]) >= self.join
        )
        for other in joined:
            self._parent[self._root(article_id)] = self._root(other)
        self._lsh.insert(article_id, signature)
        self._shingles[article_id] = found
        return joined

    def cluster_of(self, article_id: str) -> str:
        """The id that names ``article_id``'s cluster (the same for every member)."""
        return self._root(article_id)

    def groups(self) -> list[list[str]]:
        """Every cluster of two or more articles, members sorted, clusters in order of their first member."""
        by_root: dict[str, list[str]] = {}
        for article_id in self._parent:
            by_root.setdefault(self._root(article_id), []).append(article_id)
        return sorted((sorted(g) for g in by_root.values() if len(g) > 1), key=lambda g: g[0])

    def _root(self, article_id: str) -> str:
        parent = self._parent
        while parent[article_id] != article_id:
            parent[article_id] = parent[parent[article_id]]
            article_id = parent[article_id]
        return article_id
