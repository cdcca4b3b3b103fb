"""``make bench-scale``: what an index costs from 1,000 to 1,000,000 passages, through the real pipeline.

For each size the bench builds an index with ``index_sources`` (reading JSONL, splitting passages and sentences,
normalising and stemming, SQLite + FTS5, both FAISS indexes, in the kind each size gets), then opens it as the
page does (``Searcher``) in a fresh process and measures query latency per mode after warm-up, the serving
process's memory, and how far hybrid and dense results are from exact search. Writes
``bench-out/scale/results.csv`` and ``docs/bench-scale.png``.

What is synthetic, and how:
- **Text**: every passage is one article of 1–6 real news-dev sentences of one language (70 % Arabic), joined,
  at most 150 words; outlet from its first sentence, date uniform over 2010–2025. Word statistics are news-dev's,
  repeated: at 1M passages each sentence recurs about 450 times.
- **Passage vectors**: the normalised mean of the real vectors (the default encoder, from
  ``bench-out/news-index``) of the passages its sentences came from, so the vector space has the model's
  geometry; computed by a stand-in encoder that the pipeline calls as it calls the model.
- **Sentence vectors**: the real USE codes of the same sentences, looked up by text; a sentence the pipeline
  splits differently from news-dev is embedded by the real USE model.
Queries are XQuAD questions (half Arabic, half English), encoded by the real model at query time. "Exact" runs
the same searches with flat indexes (every vector compared) swapped in for the IVFs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the serving configuration: see README

from bench.report import write_csv  # noqa: E402
from bench.search import NEWS_INDEX, OUT, news_index  # noqa: E402
from bench.xquad import questions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = OUT / "scale"
CSV_FILE = WORK / "results.csv"
PLOT = ROOT / "docs" / "bench-scale.png"
SIZES = (1_000, 10_000, 100_000, 1_000_000)
CHUNK = 100_000  # articles per indexing run: a big corpus is added as a newsroom adds it, in runs
MODES = ("hybrid", "semantic", "lexical")


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def _pool() -> dict[str, list[tuple[str, int, str | None]]]:
    """news-dev's sentences by language: (text, the passage row it came from, outlet)."""
    from indexer.index import IndexDir
    from indexer.passages import sentences

    news_index()
    source = IndexDir.open(NEWS_INDEX)
    by_lang: dict[str, list[tuple[str, int, str | None]]] = {"ar": [], "en": []}
    for passage in source.store.passages_of_articles(list(source.store.iter_article_ids())):
        article = source.store.article(passage.article_id)
        text = article.text[passage.start : passage.end]
        for a, b in sentences(text):
            sentence = text[a:b]
            if 5 <= len(sentence.split()) <= 100 and article.lang in by_lang:
                by_lang[article.lang].append((sentence, passage.id, article.source))
    source.close()
    return by_lang


def write_corpus(n: int) -> list[Path]:
    """The JSONL files (``CHUNK`` articles each) of ``n`` synthetic passages, and beside each the passage rows
    every text was made from (``.rows``), written once."""
    by_lang = _pool()
    rng = random.Random(11)
    files = []
    for first in range(0, n, CHUNK):
        path = WORK / f"corpus-{n}-{first // CHUNK:02d}.jsonl"
        rows_path = path.with_suffix(".rows")
        files.append(path)
        if path.is_file() and rows_path.is_file():
            rng = random.Random(11 + first + CHUNK)
            continue
        with path.open("w", encoding="utf-8") as out, rows_path.open("w") as rows_out:
            for i in range(first, min(n, first + CHUNK)):
                lang = "ar" if rng.random() < 0.7 else "en"
                picked, words = [], 0
                for candidate in rng.sample(by_lang[lang], rng.randint(1, 6)):
                    size = len(candidate[0].split())
                    if picked and words + size > 150:
                        break
                    picked.append(candidate)
                    words += size
                text = " ".join(s[0] for s in picked)
                day = f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                row = {"id": f"syn-{i:07d}", "text": text, "lang": lang, "source": picked[0][2], "date": day}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows_out.write(" ".join(str(s[1]) for s in picked) + "\n")
        rng = random.Random(11 + first + CHUNK)
    return files


class _Recombined:
    """The passage model's stand-in: a synthetic passage's vector is the mean of its source passages' vectors."""

    prompts = {"query": "query: ", "document": "passage: "}

    def __init__(self, files: list[Path]) -> None:
        import numpy as np

        from indexer.index import IndexDir

        source = IndexDir.open(NEWS_INDEX)
        ids, self.matrix = source.store.all_vectors(source.config.dim)
        source.close()
        position = {int(i): k for k, i in enumerate(ids)}
        self.rows: dict[bytes, np.ndarray] = {}
        for path in files:
            with path.open(encoding="utf-8") as texts, path.with_suffix(".rows").open() as rows:
                for line, picked in zip(texts, rows, strict=True):
                    positions = [position[int(r)] for r in picked.split()]
                    self.rows[_key(json.loads(line)["text"])] = np.array(positions, dtype=np.int32)

    def __len__(self) -> int:
        return 0  # no modules of its own: ``Encoder`` calls ``encode``

    def encode(self, texts: list[str], **kwargs: object):  # noqa: ANN201 - as SentenceTransformer.encode
        import numpy as np

        out = np.vstack([self.matrix[self.rows[_key(t)]].mean(axis=0) for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class _KnownSentences:
    """The sentence model's stand-in: news-dev's real USE vectors by text; the real model for anything else."""

    def __init__(self) -> None:
        import numpy as np

        from indexer.index import IndexDir
        from indexer.sentences import SENTENCE_DIM, dequantize

        source = IndexDir.open(NEWS_INDEX)
        self.known: dict[bytes, np.ndarray] = {}
        for sentence_id, code in zip(*source.store.all_sentence_vectors(SENTENCE_DIM), strict=True):
            found = source.store.sentences([int(sentence_id)])[int(sentence_id)]
            text = source.store.article(found.article_id).text[found.start : found.end]
            self.known[_key(text)] = dequantize(code)
        source.close()
        self.model = None
        self.embedded = 0

    def encode(self, texts: list[str]):  # noqa: ANN201 - as SentenceEncoder.encode
        import numpy as np

        missing = [t for t in texts if _key(t) not in self.known]
        if missing:
            if self.model is None:
                from indexer.encoders import SentenceEncoder

                self.model = SentenceEncoder()
            self.known.update(zip(map(_key, missing), self.model.encode(missing), strict=True))
            self.embedded += len(missing)
        out = np.vstack([self.known[_key(t)] for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def synthetic_index(n: int) -> Path:
    """The index of ``n`` synthetic passages, built once (in a child process, as ``make bench-scale`` builds it)."""
    target = WORK / f"index-{n}"
    if not (target / "config.json").is_file():
        WORK.mkdir(parents=True, exist_ok=True)
        _child(["--build", str(n)])
    return target


def build(n: int) -> dict:
    """Index ``n`` synthetic passages from scratch (in this process: its peak memory is the build's)."""
    import shutil

    from indexer.build import index_sources
    from indexer.config import DEFAULT_ENCODER
    from indexer.encoders import Encoder
    from indexer.index import IndexDir

    files = write_corpus(n)
    target = WORK / f"index-{n}"
    shutil.rmtree(target, ignore_errors=True)
    model, sentences = _Recombined(files), _KnownSentences()
    encoder = Encoder(DEFAULT_ENCODER, model, model.matrix.shape[1], batch_size=256)
    started = time.perf_counter()
    for path in files:
        report = index_sources([path], target, progress=False, loaded_encoder=encoder, sentence_encoder=sentences)
        print(f"  {path.name}: {report.summary()}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    index = IndexDir.open(target)
    row = {
        "passages": index.store.count("passages"),
        "sentences": index.store.count("sentences"),
        "build_s": round(seconds, 1),
        "build_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "disk_mib": round(index.disk_bytes() / 2**20),
        "passage_index": index.vectors.kind,
        "sentence_index": index.sentences.kind,
        "sentences_embedded": sentences.embedded,
    }
    index.close()
    return row


def _memory() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def _queries(count: int, seed: int) -> list[str]:
    pool = [q.text for q in questions("ar")] + [q.text for q in questions("en")]
    return random.Random(seed).sample(pool, count)


FILTERED = {"hybrid_ar": {"lang": "ar"}, "hybrid_2018": {"date_from": "2018-01-01", "date_to": "2018-12-31"}}


def _timed(searcher, queries: list[str], **options: object) -> tuple[float, float]:  # noqa: ANN001
    times = []
    for q in queries:
        started = time.perf_counter()
        searcher.search(q, **options)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), round(statistics.quantiles(times, n=20)[-1], 1)


def serve(n: int, timed: int, warmup: int, recall_queries: int) -> dict:
    """Open the index as the page does, time each mode, read this process's memory, then compare with exact."""
    from indexer.filters import Filters
    from indexer.vectors import SentenceVectors, VectorIndex
    from search_app.query import parse_query
    from search_app.search import Searcher

    started = time.perf_counter()
    searcher = Searcher.open(WORK / f"index-{n}")
    row: dict = {"open_s": round(time.perf_counter() - started, 1)}
    queries = _queries(timed + warmup, 5)
    for mode in MODES:
        for q in queries[:warmup]:
            searcher.search(q, mode=mode)
        searcher._query_cache.clear()  # noqa: SLF001 - every timed query encodes
        row[f"{mode}_p50_ms"], row[f"{mode}_p95_ms"] = _timed(searcher, queries[warmup:], mode=mode)
        print(f"  {mode}: p50 {row[f'{mode}_p50_ms']} p95 {row[f'{mode}_p95_ms']}", file=sys.stderr, flush=True)
    for name, options in FILTERED.items():  # the query vectors are cached by now: filters cost what they add
        started = time.perf_counter()
        searcher.search(queries[0], **options)  # the first filtered query reads the filter columns
        row[f"{name}_first_ms"] = round((time.perf_counter() - started) * 1000, 1)
        row[f"{name}_p50_ms"], row[f"{name}_p95_ms"] = _timed(searcher, queries[warmup:], **options)
        print(f"  {name}: p50 {row[f'{name}_p50_ms']} p95 {row[f'{name}_p95_ms']}", file=sys.stderr, flush=True)
    memory = _memory()
    row["serve_rss_mib"], row["serve_peak_mib"] = memory["VmRSS"], memory["VmHWM"]
    row["serve_file_mib"] = memory.get("RssFile", 0)
    retrieval = searcher.retrieval
    sample = _queries(recall_queries, 17)
    # Lexical candidates (tantivy) against FTS5 ranking every passage itself, on part of the sample.
    lexical = []
    for q in sample[: max(1, recall_queries // 5)]:
        parsed = parse_query(q)
        found = retrieval.lexical(parsed.stems, parsed.phrases, Filters(), 10)
        reference = retrieval._fts_lexical(parsed.stems, parsed.phrases, Filters(), 10)  # noqa: SLF001
        if reference:
            lexical.append(len(set(found) & set(reference)) / len(reference))
    row["lexical_r10"] = round(100 * sum(lexical) / max(1, len(lexical)), 1)
    index = retrieval.index
    approximate = index.vectors.approximate or index.sentences.approximate
    ann = {q: _ranked(searcher.search(q, mode="hybrid", k=10)) for q in sample}
    dense = {q: retrieval.dense(searcher.query_vectors(q)[0], 10, None) for q in sample}
    allowed = {name: retrieval.allowed(Filters.make(**options)) for name, options in FILTERED.items()}
    filtered = {(name, q): retrieval.dense(searcher.query_vectors(q)[0], 10, allowed[name])
                for name in FILTERED for q in sample}  # fmt: skip
    if approximate:  # the same searches with every vector compared
        exact = VectorIndex(index.vectors.dim)
        for ids, vectors in index.store.iter_row_vectors("passages", exact.DTYPE, exact.dim):
            exact.add(ids, vectors)
        exact_sentences = SentenceVectors(index.sentences.dim)
        for ids, codes in index.store.iter_row_vectors("sentences", exact_sentences.DTYPE, exact_sentences.dim):
            exact_sentences.add(ids, codes)
        exact.generation = exact_sentences.generation = index.store.generation
        index.vectors, index.sentences = exact, exact_sentences
    hybrid = [_recall(ann[q], _ranked(searcher.search(q, mode="hybrid", k=10))) for q in sample]
    row["hybrid_r10"], row["hybrid_r10_ids"] = _percent(hybrid)
    flat = [_recall(dense[q], retrieval.dense(searcher.query_vectors(q)[0], 10, None)) for q in sample]
    row["dense_r10"], row["dense_r10_ids"] = _percent(flat)
    for name in FILTERED:
        kept = [_recall(filtered[name, q], retrieval.dense(searcher.query_vectors(q)[0], 10, allowed[name]))
                for q in sample]  # fmt: skip
        row[f"dense_{name.removeprefix('hybrid_')}_r10"] = _percent(kept)[0]
    return row


def _ranked(hits: list) -> dict[str, float]:
    return {h.article_id: h.score for h in hits}


TIE = 1e-5  # scores this close to the exact 10th are ties with it


def _recall(found: dict, exact: dict) -> tuple[int, int, int]:
    """(found among the exact top 10 counting ties, found by id, how many the exact search returned). A corpus
    recombined from a few thousand real vectors holds many equal ones: which of several tied rows make the exact
    top 10 is arbitrary, so a row scored within ``TIE`` of the exact 10th counts as found."""
    if not exact:
        return 0, 0, 0
    floor = min(exact.values()) - TIE
    return sum(1 for score in found.values() if score >= floor), len(set(found) & set(exact)), len(exact)


def _percent(recalls: list[tuple[int, int, int]]) -> tuple[float, float]:
    total = max(1, sum(r[2] for r in recalls))
    tied = sum(min(r[0], r[2]) for r in recalls)
    return round(100 * tied / total, 1), round(100 * sum(r[1] for r in recalls) / total, 1)


def _child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.scale", *args], cwd=ROOT, stdout=subprocess.PIPE, check=True)
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["passages"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for mode in MODES:
        axes[0].plot(sizes, [r[f"{mode}_p50_ms"] for r in rows], marker="o", label=f"{mode} p50")
        axes[0].plot(sizes, [r[f"{mode}_p95_ms"] for r in rows], marker="x", linestyle="--", label=f"{mode} p95")
    axes[0].set(xscale="log", yscale="log", xlabel="passages", ylabel="ms per query", title="query latency")
    axes[0].legend(fontsize=7)
    axes[1].plot(sizes, [r["serve_peak_mib"] for r in rows], marker="o", label="serving process, peak")
    axes[1].plot(sizes, [r["build_peak_mib"] for r in rows], marker="o", label="build, peak")
    axes[1].plot(sizes, [r["disk_mib"] for r in rows], marker="o", label="disk")
    axes[1].set(xscale="log", yscale="log", xlabel="passages", ylabel="MiB", title="memory and disk")
    axes[1].legend(fontsize=7)
    axes[2].plot(sizes, [r["build_s"] for r in rows], marker="o")
    axes[2].set(xscale="log", yscale="log", xlabel="passages", ylabel="seconds", title="build time (stand-in encoder)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="passage counts, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--recall-queries", type=int, default=1000, help="queries compared with exact search")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)  # one step, in a child process
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.build:
        print(json.dumps(build(args.build)))
        return
    if args.serve:
        print(json.dumps(serve(args.serve, args.queries, args.warmup, args.recall_queries)))
        return
    results = json.loads((WORK / "results.json").read_text()) if (WORK / "results.json").is_file() else {}
    for n in (int(s) for s in args.sizes.split(",")):
        print(f"{n:,} passages: building", file=sys.stderr, flush=True)
        row = _child(["--build", str(n)])
        print(f"{n:,} passages: searching", file=sys.stderr, flush=True)
        common = ["--queries", str(args.queries), "--warmup", str(args.warmup)]
        row.update(_child(["--serve", str(n), *common, "--recall-queries", str(args.recall_queries)]))
        print(json.dumps(row), flush=True)
        results[str(n)] = row
        (WORK / "results.json").write_text(json.dumps(results, indent=1))
    rows = [results[k] for k in sorted(results, key=int)]
    write_csv(rows, CSV_FILE)
    plot(rows, PLOT)
    print(f"wrote {CSV_FILE} and {PLOT}")


if __name__ == "__main__":
    main()
