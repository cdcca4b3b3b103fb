"""``make bench-search``: query latency p50/p95 per mode, after warm-up.

Two indexes: news-dev (1,000 real articles, embedded by the real encoder and cached under bench-out/)
and a synthetic index of 100,000 passages made of real news sentences recombined. The synthetic
passages' vectors are built from the real passage vectors of news-dev (the encoder run once, cached
in that index): each is the normalised mean of the vectors of the passages its sentences came from,
so the vector space has the real model's geometry. Queries are XQuAD questions, Arabic and English,
and every search includes query encoding, fusion, grouping and highlighting.
"""

from __future__ import annotations

import argparse
import json
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
SYNTHETIC = OUT / "synthetic-100k"


def news_index() -> Path:
    from indexer.build import index_sources

    report = index_sources([NEWS], NEWS_INDEX, progress=True)
    print(f"news-dev index: {report.summary()}")
    return NEWS_INDEX


def synthetic_index(n: int) -> Path:
    """Build (once) an index of ``n`` passages recombined from news-dev sentences and vectors."""
    import numpy as np

    from indexer.build import index_sources
    from indexer.encoders import Encoder
    from indexer.index import IndexDir
    from indexer.passages import sentences

    target = SYNTHETIC.with_name(f"synthetic-{n // 1000}k")
    if (target / "config.json").is_file() and IndexDir.open(target).store.count("passages") >= n:
        return target
    source = IndexDir.open(NEWS_INDEX)
    pool: list[tuple[str, int, str, str | None]] = []  # sentence, passage row, lang, source
    rows = source.store.db.execute(
        'SELECT p.id, p.start, p."end", a.text, a.lang, a.source FROM passages p JOIN articles a ON a.id = p.article_id'
    )
    for pid, start, end, text, lang, outlet in rows:
        pool += [(text[start + a : start + b], pid, lang, outlet) for a, b in sentences(text[start:end])]
    ids, matrix = source.store.all_vectors(source.config.dim)
    row_of = {int(i): k for k, i in enumerate(ids)}
    by_lang = {lang: [s for s in pool if s[2] == lang and 5 <= len(s[0].split()) <= 100] for lang in ("ar", "en")}
    rng = random.Random(11)
    vectors: dict[str, np.ndarray] = {}
    corpus = OUT / "synthetic.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for i in range(n):
            lang = "ar" if rng.random() < 0.7 else "en"
            picked, words = [], 0
            for candidate in rng.sample(by_lang[lang], 6):  # one passage each: at most 150 words
                size = len(candidate[0].split())
                if picked and words + size > 150:
                    break
                picked.append(candidate)
                words += size
            text = " ".join(s[0] for s in picked)
            v = matrix[[row_of[s[1]] for s in picked]].mean(axis=0)
            vectors[text] = (v / np.linalg.norm(v)).astype(np.float32)
            day = f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            row = {"id": f"syn-{i:06d}", "text": text, "lang": lang, "source": picked[0][3], "date": day}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    cached = Encoder(source.config.encoder, _CachedVectors(vectors), source.config.dim, batch_size=256)
    report = index_sources([corpus], target, progress=True, loaded_encoder=cached)
    print(f"synthetic index: {report.summary()}")
    return target


class _CachedVectors:
    """Stands in for the model while building the synthetic index: returns the vectors made above."""

    prompts = {"query": "query: ", "document": "passage: "}

    def __init__(self, vectors: dict) -> None:
        self.vectors = vectors

    def __len__(self) -> int:
        return 0  # no modules of its own: ``Encoder`` calls ``encode``

    def encode(self, texts: list[str], **kwargs: object):  # noqa: ANN201
        import numpy as np

        return np.vstack([self.vectors[t] for t in texts])


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
