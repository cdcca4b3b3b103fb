"""Syndication: wire copy re-run by many outlets with small edits, grouped into clusters of near-duplicates.

Each article becomes the set of its normalised word 5-shingles (``indexer.normalize``: re-spelled Arabic, harakat
and tatweel fold away before shingling). MinHash signatures in an LSH index (``datasketch``) find candidates
whose estimated Jaccard similarity is above ``LSH_THRESHOLD``; a candidate joins when the shingles the two
share cover at least ``CONTAINMENT`` of the shorter one's and at least ``MIN_JACCARD`` of their union. Containment
decides: an outlet that runs the first two thirds of a wire story shares most of its text with the original but
only two thirds of the union. The Jaccard floor keeps a short piece (a brief, one quoted paragraph) that many longer
stories contain from chaining them all into one cluster. Clusters are the connected components of the joined
pairs, so they do not depend on the order articles arrive in: ``Clusters`` builds them in memory one ``add`` at a
time, and ``settle`` keeps them in an index's store (each article's LSH band keys in ``article_bands``, its
cluster's name, the smallest member id, in ``articles.cluster``), touching only the articles written or orphaned
since the last run.

``make bench-syndication`` measures precision and recall of the pairs on news-dev with injected re-edited
copies (trimmed paragraphs, changed words and a credit line, re-spelled Arabic).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from indexer.normalize import normalize_text, tokens
from indexer.store import Store

SHINGLE = 5  # words per shingle
PERMUTATIONS = 128
LSH_THRESHOLD = 0.3  # estimated Jaccard for a candidate pair: low, so that trimmed copies are candidates
CONTAINMENT = 0.75  # of the shorter article's shingles, held by the other, for a pair to join
MIN_JACCARD = 0.3  # and of the two articles' shingles together: the shorter is not a small part of the longer
MIN_SHINGLES = 8  # shorter texts (a headline, a caption) are never clustered: too little to tell copies apart
SETTLE_CHUNK = 2_000  # articles settled per transaction


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """The normalised word ``size``-grams of ``text`` (empty when it has fewer words)."""
    words = [t.text for t in tokens(normalize_text(text))]
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def containment(a: set[str], b: set[str]) -> float:
    """How much of the smaller of two shingle sets the other holds (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def copies(a: set[str], b: set[str], join: float = CONTAINMENT) -> bool:
    """Whether two shingle sets are copies of one text: the shorter mostly held by the other (``join``), and not a
    small part of it (``MIN_JACCARD`` of the union shared)."""
    if not a or not b:
        return False
    shared = len(a & b)
    return shared >= join * min(len(a), len(b)) and shared >= MIN_JACCARD * (len(a) + len(b) - shared)


@cache
def banding(threshold: float = LSH_THRESHOLD) -> tuple[int, int]:
    """(bands, rows per band) that datasketch finds best for ``threshold`` over PERMUTATIONS hash values."""
    try:
        from datasketch import MinHashLSH
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise ImportError("syndication clusters need datasketch: pip install datasketch") from exc
    lsh = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    return lsh.b, lsh.r


@dataclass(frozen=True)
class Fingerprint:
    """An article's shingles and the keys of its LSH bands (none when it is too short to cluster)."""

    shingles: frozenset[str]
    bands: tuple[int, ...]


def fingerprint(text: str, threshold: float = LSH_THRESHOLD) -> Fingerprint:
    """The shingles of ``text`` and one 64-bit key per LSH band of their MinHash signature: two articles share a
    band key when their signatures agree on that band's rows (the chance of it grows with their Jaccard)."""
    from datasketch import MinHash

    found = frozenset(shingles(text))
    if len(found) < MIN_SHINGLES:
        return Fingerprint(found, ())
    signature = MinHash(num_perm=PERMUTATIONS, seed=1)
    signature.update_batch([s.encode("utf-8") for s in found])
    values = np.asarray(signature.hashvalues, dtype="<u8")
    bands, rows = banding(threshold)
    keys = (hashlib.blake2b(values[i * rows : (i + 1) * rows].tobytes(), digest_size=8).digest() for i in range(bands))
    return Fingerprint(found, tuple(int.from_bytes(k, "little", signed=True) for k in keys))


@dataclass
class Clusters:
    """Near-duplicate clusters over the articles ``add``-ed so far, in memory."""

    threshold: float = LSH_THRESHOLD
    join: float = CONTAINMENT
    _bands: dict[tuple[int, int], list[str]] = field(default_factory=dict, repr=False)
    _shingles: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _parent: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, article_id: str, text: str) -> list[str]:
        """Add one article; returns the earlier articles it was joined to (empty: a cluster of its own so far)."""
        if article_id in self._parent:
            raise ValueError(f"article {article_id!r} was added already")
        self._parent[article_id] = article_id
        found = fingerprint(text, self.threshold)
        mates = {other for band in enumerate(found.bands) for other in self._bands.get(band, ())}
        joined = sorted(m for m in mates if copies(found.shingles, self._shingles[m], self.join))
        for other in joined:
            self._parent[self._root(article_id)] = self._root(other)
        for band in enumerate(found.bands):
            self._bands.setdefault(band, []).append(article_id)
        self._shingles[article_id] = found.shingles
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
        return _root(self._parent, article_id)


def settle(store: Store, *, join: float = CONTAINMENT, chunk: int = SETTLE_CHUNK) -> int:
    """Give every article of ``store`` without a cluster (written, or left by a member's deletion, since the last
    run) its cluster, ``chunk`` articles per transaction; returns how many were settled.

    An unsettled article is fingerprinted, its band keys stored, and joined to each article sharing a band whose
    containment passes ``join``. A join to a settled article takes in that article's whole cluster; one to an
    article still unsettled waits for that article's own turn, which finds this one by its stored bands. Each
    merged cluster is named after its smallest member id. Call inside the index's write lock."""
    settled = 0
    while pending := store.unclustered(chunk):
        with store.transaction():
            settled += _settle_chunk(store, pending, join)
            store.bump_generation()  # what searches cache per generation is read again
    return settled


def _settle_chunk(store: Store, pending: list[str], join: float) -> int:
    texts = store.articles(pending)
    prints = {a: fingerprint(texts[a].text) for a in pending if a in texts}
    shingled: dict[str, frozenset[str]] = {a: f.shingles for a, f in prints.items()}
    parent = {a: a for a in prints}
    for article_id, found in prints.items():
        store.put_bands(article_id, found.bands)
    near = {a: store.band_mates(f.bands) for a, f in prints.items()}
    labels = store.clusters_of(sorted({m for mates in near.values() for m in mates}))
    for article_id, found in prints.items():
        mates = [m for m in near[article_id] if m != article_id and (m in prints or labels.get(m))]
        missing = [m for m in mates if m not in shingled]
        shingled.update((m, frozenset(shingles(t.text))) for m, t in store.articles(missing).items())
        for mate in mates:
            if mate in shingled and copies(found.shingles, shingled[mate], join):
                parent.setdefault(mate, mate)
                parent[_root(parent, article_id)] = _root(parent, mate)
    names = {m: labels[m] for m in parent if labels.get(m)}
    for member, name in names.items():  # a stored cluster is one component, however many of this chunk join it
        parent.setdefault(name, name)
        parent[_root(parent, member)] = _root(parent, name)
    components: dict[str, set[str]] = {}
    for article_id in parent:
        components.setdefault(_root(parent, article_id), set()).add(article_id)
    held = store.cluster_members(list(names.values()))
    for members in components.values():
        now = {x: name for name in members if name in held for x in held[name]}  # stored members, their name
        name = min(members | now.keys())
        store.set_cluster(sorted(x for x in members | now.keys() if now.get(x) != name), name)  # only what changes
    return len(prints)


def _root(parent: dict[str, str], article_id: str) -> str:
    while parent[article_id] != article_id:
        parent[article_id] = parent[parent[article_id]]
        article_id = parent[article_id]
    return article_id
