"""Evidence-aware fusion: how one passage's evidence becomes its score. Pure functions, no index.

Each candidate passage carries four kinds of evidence for a query:
- ``cosine``: the passage vector against the query vector (the index's encoder, e5-use by default);
- ``bm25``: FTS5 BM25 of the query's stems in the passage, which only speaks for passages in the query's
  language (an English word never matches Arabic text: counting it there only pushes translations down);
- ``sentence``: the best USE cosine of one of the passage's own sentences (the sentence index). A sentence
  that translates or restates the query scores 0.7–0.95 whatever its language; only the part above a floor
  counts, times ``SENTENCE_WEIGHT``. The floor is ``SENTENCE_FLOOR`` (0.45) for passages in another language
  than the query's, which have no lexical evidence at all, and ``SAME_LANGUAGE_FLOOR`` (0.7) for passages in
  the query's language, where BM25 and containment already speak and a lower floor only lifted sentences
  that resemble a question over the passage that answers it. So a translation rises over same-language
  passages on the same topic, and questions keep their ranking;
- ``contains``: the whole normalised query (``QUOTE_MIN_WORDS`` words or more) is in the passage, word for
  word. A pasted quote then ranks first in every mode but ``semantic``.

Weights were calibrated with ``python -m bench.tune`` on XQuAD questions (all four settings) and the
bilingual sentence and quote sets of ``bench.xling`` (README, "How fusion was calibrated").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexer.retrieval import StoredPassage

LEXICAL_WEIGHT = 0.08
SENTENCE_WEIGHT = 1.0
SENTENCE_FLOOR = 0.45
SAME_LANGUAGE_FLOOR = 0.7
QUOTE_MIN_WORDS = 4


@dataclass(frozen=True)
class Weights:
    """The fusion rule's constants (``bench.tune`` replays the rule with others)."""

    lexical: float = LEXICAL_WEIGHT
    sentence: float = SENTENCE_WEIGHT
    sentence_floor: float = SENTENCE_FLOOR
    same_language_floor: float = SAME_LANGUAGE_FLOOR


@dataclass(frozen=True)
class Evidence:
    """What one passage has for one query. ``sentence_span``: where the sentence that gave ``sentence`` lies in the
    article's text (the passage's nearest sentence: the sentence index returns the nearest of all first)."""

    passage: StoredPassage
    cosine: float = 0.0
    bm25: float = 0.0  # raw BM25 (0: the query's stems are not in the passage)
    sentence: float = 0.0
    sentence_span: tuple[int, int] | None = None
    contains: bool = False


def score(e: Evidence, mode: str, query_lang: str, best_bm25: float, weights: Weights = Weights()) -> float:
    """The passage's score: BM25 alone in ``lexical`` mode, else cosine plus the lexical and sentence terms."""
    if mode == "lexical":
        return e.bm25
    same = e.passage.lang == query_lang
    floor = weights.same_language_floor if same else weights.sentence_floor
    value = e.cosine + weights.sentence * max(0.0, e.sentence - floor)
    if mode == "hybrid" and e.bm25 > 0 and same:
        value += weights.lexical * e.bm25 / (best_bm25 or 1.0)
    return value


def rank(
    evidence: Iterable[Evidence], mode: str, query_lang: str, weights: Weights = Weights()
) -> list[tuple[float, Evidence]]:
    """Passages best first: those that contain the whole query before all others (except in ``semantic`` mode),
    then by score. In ``lexical`` mode only passages with BM25 evidence or the whole query count."""
    items: Sequence[Evidence] = list(evidence)
    if mode == "lexical":
        items = [e for e in items if e.bm25 > 0 or e.contains]
    best = max((e.bm25 for e in items), default=0.0)
    scored = [(score(e, mode, query_lang, best, weights), e) for e in items]
    quote_first = mode != "semantic"
    scored.sort(key=lambda item: (-(quote_first and item[1].contains), -item[0], item[1].passage.id))
    return scored
