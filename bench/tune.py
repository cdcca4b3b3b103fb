"""``python -m bench.tune``: how the hybrid weight was chosen.

Collects, once per XQuAD question, the Searcher's own dense and lexical candidates, then replays the
fusion rule of ``search_app.search`` (cosine + w × BM25 / best BM25, lexical only for passages in the
query's language) for a grid of weights, and prints R@1 per setting for each weight.
"""

from __future__ import annotations

import argparse
import pickle

from bench.quality import OUT, SETTINGS, index_path
from bench.xquad import doc_id, questions
from indexer.config import DEFAULT_ENCODER
from search_app.filters import Filters
from search_app.query import parse_query
from search_app.search import CANDIDATES, Searcher

WEIGHTS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5)


def collect(searcher: Searcher, qlang: str, corpus: str | None, rel: str, limit: int) -> list[tuple]:
    rows = []
    for q in questions(qlang)[: limit or None]:
        parsed = parse_query(q.text)
        filters = Filters.make(corpus)
        allowed = searcher._allowed(parsed, filters)
        vector = searcher._query_vector(parsed.text)
        dense = searcher._dense(vector, allowed, CANDIDATES)
        lexical = searcher._lexical(parsed, filters, CANDIDATES)
        dense.update(searcher._cosines(vector, [i for i in lexical if i not in dense]))
        meta = searcher.index.store.passages(list(dense))
        rows.append((parsed.lang, dense, lexical, meta, doc_id(rel, q.paragraph)))
    return rows


def r_at_1(rows: list[tuple], weight: float) -> float:
    good = 0
    for lang, dense, lexical, meta, target in rows:
        if not dense:
            continue
        best = max(lexical.values(), default=0.0) or 1.0
        top = max(
            dense,
            key=lambda i: dense[i] + (weight * lexical[i] / best if i in lexical and meta[i].lang == lang else 0.0),
        )
        good += meta[top].article_id == target
    return 100 * good / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tune", description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="questions per language (0: all)")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    args = parser.parse_args()
    searcher = Searcher.open(index_path(args.encoder))
    print(f"{'weight':>8}" + "".join(f"{name:>10}" for name, *_ in SETTINGS))
    cache = OUT / f"tune-{args.encoder.replace(':', '_').replace('/', '_')}-{args.limit}.pickle"
    if cache.is_file():
        collected = pickle.loads(cache.read_bytes())
    else:
        collected = {name: collect(searcher, q, c, r, args.limit) for name, q, c, r in SETTINGS}
        cache.write_bytes(pickle.dumps(collected))
    for weight in WEIGHTS:
        print(f"{weight:>8.2f}" + "".join(f"{r_at_1(rows, weight):>10.1f}" for rows in collected.values()))


if __name__ == "__main__":
    main()
