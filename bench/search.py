"""``make bench-search``: query latency p50/p95 per mode, after warm-up.

Two indexes: news-dev (1,000 real articles, embedded by the real encoder and cached under bench-out/)
and a synthetic index of 100,000 passages made of real news sentences recombined, the one ``make
bench-scale`` builds (``bench.scale``: how its text and vectors are made). Queries are XQuAD questions,
Arabic and English, and every search includes query encoding, fusion, grouping and highlighting.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the serving configuration: see README

from bench.xquad import ROOT, questions  # noqa: E402

OUT = ROOT / "bench-out"
NEWS = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"
NEWS_INDEX = OUT / "news-index"


def news_index() -> Path:
    from indexer.build import index_sources

    report = index_sources([NEWS], NEWS_INDEX, progress=True)
    print(f"news-dev index: {report.summary()}")
    return NEWS_INDEX


def latencies(index: Path, queries: list[str], mode: str, explain: int | None, warmup: int) -> list[float]:
    from search_app.search import Searcher

    searcher = Searcher.open(index)
    for q in queries[:warmup]:
        searcher.search(q, mode=mode, explain=explain)
    searcher._query_cache.clear()  # noqa: SLF001 - every timed query encodes
    times = []
    for q in queries[warmup:]:
        started = time.perf_counter()
        searcher.search(q, mode=mode, explain=explain)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--queries", type=int, default=200, help="timed queries (half Arabic, half English)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--synthetic", type=int, default=100_000, help="passages in the synthetic index (0: none)")
    args = parser.parse_args()
    rng = random.Random(5)
    pool = [q.text for q in questions("ar")] + [q.text for q in questions("en")]
    queries = rng.sample(pool, args.queries + args.warmup)
    indexes = {"news-dev": news_index()}
    if args.synthetic:
        from bench.scale import synthetic_index

        indexes[f"synthetic {args.synthetic // 1000}k"] = synthetic_index(args.synthetic)
    print(
        f"\nlatency in ms over {args.queries} XQuAD queries after {args.warmup} warm-up, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS')}; marks = hits whose best sentence is marked (from the sentence index)"
    )
    print(f"{'index':<16}{'mode':<10}{'marks':>8}{'p50':>9}{'p95':>9}")
    for name, path in indexes.items():
        for mode, explain in (("hybrid", 0), ("hybrid", None), ("semantic", None), ("lexical", None)):
            t = latencies(path, queries, mode, explain, args.warmup)
            p95 = statistics.quantiles(t, n=20)[-1]
            marks = "none" if explain == 0 else "all"
            print(f"{name:<16}{mode:<10}{marks:>8}{statistics.median(t):>9.1f}{p95:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
