"""``python -m bench.ann``: which FAISS index for the passage vectors, per corpus size (the vector side of the
scale work; the full pipeline's cost curves are still to come).

Vectors: news-dev's real passage vectors (the default encoder, 896-d, from ``bench-out/news-index``, built by
``make bench-search`` if missing), recombined: each synthetic vector is a random convex pair of real ones plus a
little noise, normalised. Queries: 200 of them perturbed. Truth: exact inner-product top 10. Every index is
searched one query at a time on one thread (how the page and the CLI search). Writes ``bench-out/ann.csv`` and
``docs/bench-ann.png``.

``IVF,SQ8 + re-rank`` takes the IVF's top 100 and re-scores them exactly with float vectors read by id (in
serving they would come from a memory-mapped file, so they are not counted in the index's memory).
"""

from __future__ import annotations

import argparse
import csv
import re
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from bench.report import write_csv
from bench.search import NEWS_INDEX, news_index

ROOT = Path(__file__).resolve().parents[1]
CSV_FILE = ROOT / "bench-out" / "ann.csv"
PLOT = ROOT / "docs" / "bench-ann.png"
QUERIES = 200
RERANK = 100


def vectors(n: int, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, real.shape[1]), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        a, b = rng.integers(0, len(real), m), rng.integers(0, len(real), m)
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = w * real[a] + (1 - w) * real[b] + rng.normal(0, 0.01, (m, real.shape[1])).astype(np.float32)
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def timed_search(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    found = np.vstack([search(q[None, :]) for q in queries])
    return found, (time.perf_counter() - started) / len(queries) * 1000


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return 100 * float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))


def measure(n: int, real: np.ndarray, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    data = vectors(n, real, rng)
    d = data.shape[1]
    queries = data[rng.integers(0, n, QUERIES)] + rng.normal(0, 0.02, (QUERIES, d)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    rows = []

    def add(name: str, index: faiss.Index, build: float, search: Callable[[np.ndarray], np.ndarray]) -> None:
        faiss.omp_set_num_threads(1)
        found, ms = timed_search(search, queries)
        size = faiss.serialize_index(index).nbytes / 2**20
        row = {"passages": n, "index": name, "build_s": round(build, 1), "query_ms": round(ms, 2),
               "recall_at_10": round(recall(found, truth), 1), "index_mib": round(size)}  # fmt: skip
        print(row, flush=True)
        rows.append(row)

    flat = faiss.IndexFlatIP(d)
    flat.add(data)
    faiss.omp_set_num_threads(1)
    truth, _ = timed_search(lambda q: flat.search(q, 10)[1], queries)
    add("flat (exact)", flat, 0.0, lambda q: flat.search(q, 10)[1])
    flat.reset()  # its memory back before the next index

    faiss.omp_set_num_threads(2)
    nlist = max(16, int(4 * np.sqrt(n)))
    started = time.perf_counter()
    ivf = faiss.index_factory(d, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    ivf.train(data[rng.choice(n, min(n, 64 * nlist), replace=False)])
    ivf.add(data)
    build = time.perf_counter() - started
    for nprobe in (16, 64):
        faiss.extract_index_ivf(ivf).nprobe = nprobe
        add(f"IVF{nlist},SQ8 nprobe {nprobe}", ivf, build, lambda q: ivf.search(q, 10)[1])

        def reranked(q: np.ndarray) -> np.ndarray:
            ids = ivf.search(q, RERANK)[1][0]
            ids = ids[ids >= 0]
            return ids[np.argsort(-(data[ids] @ q[0]))][:10][None, :]

        add(f"IVF{nlist},SQ8 nprobe {nprobe} + re-rank {RERANK}", ivf, build, reranked)
    if n <= 200_000:  # HNSW's build alone takes tens of minutes at 1M on two cores
        faiss.omp_set_num_threads(2)
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 128
        hnsw.add(data)
        add("HNSW32 efSearch 128", hnsw, time.perf_counter() - started, lambda q: hnsw.search(q, 10)[1])
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def kind(row: dict) -> str:  # the IVF's list count grows with the corpus: one line per kind of index
        return re.sub(r"IVF\d+", "IVF(4√n)", row["index"])

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label in dict.fromkeys(kind(r) for r in rows):
        mine = [r for r in rows if kind(r) == label]
        left.plot([r["passages"] for r in mine], [r["query_ms"] for r in mine], marker="o", label=label)
        right.plot([r["passages"] for r in mine], [r["recall_at_10"] for r in mine], marker="o", label=label)
    for axis, title in ((left, "ms per query (1 thread)"), (right, "R@10 against exact search (%)")):
        axis.set_xscale("log")
        axis.set_xlabel("passages")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    left.set_yscale("log")
    right.set_ylim(85, 100.5)
    right.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ann", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated corpus sizes")
    parser.add_argument("--plot-only", action="store_true", help="draw the plot again from the last CSV")
    args = parser.parse_args()
    if args.plot_only:
        with CSV_FILE.open() as saved:
            plot(
                [
                    {**r, **{k: float(r[k]) for k in ("passages", "query_ms", "recall_at_10")}}
                    for r in csv.DictReader(saved)
                ],
                PLOT,
            )
        return
    from indexer.index import IndexDir

    if not (NEWS_INDEX / "config.json").is_file():
        news_index()
    source = IndexDir.open(NEWS_INDEX)
    _, real = source.store.all_vectors(source.config.dim)
    source.close()
    rows = [row for n in map(int, args.sizes.split(",")) for row in measure(n, real)]
    write_csv(rows, CSV_FILE)
    plot(rows, PLOT)
    print(f"wrote {CSV_FILE} and {PLOT}")


if __name__ == "__main__":
    main()
