"""``python -m bench.tune``: how the fusion weights were chosen.

Collects, once per query, every candidate passage's evidence as the Searcher sees it
(``Searcher.evidence``: cosine, BM25, best-sentence similarity, containment), then replays
``search_app.fusion.rank`` over a grid of weights and prints R@1 / R@10 per setting: the XQuAD
questions (``bench.quality``'s four settings: questions must keep their ranking) and the bilingual
sentence and pasted-quote sets of ``bench.xling`` (translations and quotes must win).
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import random
import sys

from bench import xling
from bench.quality import OUT, SETTINGS, index_path
from bench.xquad import doc_id, questions, write_corpus
from indexer.build import index_sources
from indexer.config import DEFAULT_ENCODER
from indexer.filters import Filters
from search_app.fusion import Evidence, Weights, rank
from search_app.query import parse_query
from search_app.search import CANDIDATES, Searcher

LEXICAL = (0.04, 0.08, 0.12)
SENTENCE = (0.0, 1.0, 2.0, 3.0)
# Passages in another language than the query's. Not below the default floor: the Searcher only adds the passages
# of sentences above it to the candidates, so a lower floor would be replayed on too few candidates.
FLOOR = (0.45, 0.5, 0.55, 0.6)
SAME_FLOOR = (0.55, 0.7, 1.0)  # passages in the query's language (1.0: the sentence never counts there)
Case = tuple[str, str | None, str]  # query, language filter, gold article id


def collect(searcher: Searcher, cases: list[Case]) -> list[tuple[str, list[Evidence], str]]:
    rows = []
    for query, lang, gold in cases:
        parsed = parse_query(query)
        vectors = searcher.query_vectors(parsed.text)
        evidence = searcher.evidence(parsed, Filters.make(lang), "hybrid", CANDIDATES, vectors)
        rows.append((parsed.lang, evidence, gold))
    return rows


def recall(rows: list[tuple[str, list[Evidence], str]], weights: Weights) -> tuple[float, float]:
    """(R@1, R@10) in % of articles ranked by the fusion rule with ``weights``."""
    r1 = r10 = 0
    for lang, evidence, gold in rows:
        articles = list(dict.fromkeys(e.passage.article_id for _, e in rank(evidence, "hybrid", lang, weights)))
        r1 += articles[:1] == [gold]
        r10 += gold in articles[:10]
    return 100 * r1 / len(rows), 100 * r10 / len(rows)


def gather(limit: int, sentences: int, quotes: int) -> dict[str, list]:
    cache = OUT / f"tune-fusion-{limit}-{sentences}-{quotes}.pickle"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    collected: dict[str, list] = {}
    path = index_path(DEFAULT_ENCODER)
    index_sources([write_corpus(OUT / "corpus.jsonl")], path, progress=False)
    searcher = Searcher.open(path)
    for name, qlang, corpus, rel in SETTINGS:
        cases = [(q.text, corpus, doc_id(rel, q.paragraph)) for q in questions(qlang)[: limit or None]]
        collected[name] = collect(searcher, cases)
        print(f"collected {name}", file=sys.stderr)
    searcher.close()
    rng = random.Random(7)
    for target in ("ar", "en"):
        searcher = Searcher.open(xling.build(target, None))
        cases_by: dict[str, list[Case]] = {}
        for case in xling.sentence_cases(xling.OTHER[target], rng, sentences) + xling.quote_cases(target, rng, quotes):
            cases_by.setdefault(case.setting, []).append((case.query, None, case.gold))
        for name, cases in cases_by.items():
            collected[name] = collect(searcher, cases)
            print(f"collected {name}", file=sys.stderr)
        searcher.close()
    cache.write_bytes(pickle.dumps(collected))
    return collected


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="XQuAD questions per setting (0: all)")
    parser.add_argument("--sentences", type=int, default=300, help="bilingual query sentences per direction")
    parser.add_argument("--quotes", type=int, default=100, help="pasted quotes per language")
    args = parser.parse_args()
    collected = gather(args.limit, args.sentences, args.quotes)
    names = list(collected)
    head = f"{'lex':>5}{'sent':>6}{'floor':>6}{'same':>6}  "
    print(head + "".join(f"{n[:14]:>15}" for n in names) + "   worst xling R@1")
    for lexical, weight, floor, same in itertools.product(LEXICAL, SENTENCE, FLOOR, SAME_FLOOR):
        if weight == 0 and (floor, same) != (FLOOR[0], SAME_FLOOR[0]):
            continue
        weights = Weights(lexical, weight, floor, same)
        scores = [recall(collected[n], weights) for n in names]
        worst = min(r1 for n, (r1, _) in zip(names, scores, strict=True) if n.startswith("xling"))
        cells = "".join(f"{r1:>8.1f}/{r10:<6.1f}" for r1, r10 in scores)
        print(f"{lexical:>5.2f}{weight:>6.1f}{floor:>6.2f}{same:>6.2f}  {cells}   {worst:.1f}", flush=True)


if __name__ == "__main__":
    main()
