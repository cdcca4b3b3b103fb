"""``make bench-quality``: XQuAD retrieval and quote checking through the real indexer and Searcher.

Each question is a query whose one relevant document is its paragraph. The 480 paragraphs (240
Arabic, 240 English, parallel) form one index; single-language settings use the ``lang`` filter,
which is exact (filters apply before ranking is cut), so they equal separate indexes.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.xquad import ROOT, doc_id, paragraphs, questions, write_corpus
from indexer.build import index_sources
from indexer.config import DEFAULT_ENCODER
from indexer.passages import sentences
from search_app.quotes import check_quote
from search_app.search import MODES, Searcher

OUT = ROOT / "bench-out" / "xquad"
SETTINGS = (  # name, query language, corpus filter, relevant document language
    ("ar→ar", "ar", "ar", "ar"),
    ("en→ar", "en", "ar", "ar"),
    ("ar→en", "ar", "en", "en"),
    ("en→en", "en", "en", "en"),
    ("mixed ar", "ar", None, "ar"),
    ("mixed en", "en", None, "en"),
)
HARAKAT = "ًٌٍَُِّْ"
SWAPS = {"ا": "أ", "أ": "ا", "إ": "ا", "آ": "ا", "ي": "ى", "ى": "ي", "ة": "ه", "ه": "ة"}


@dataclass
class Scores:
    r1: float
    r10: float
    mrr: float
    either_r1: float  # the paragraph or its translation first (what "mixed" settings also count)


def index_path(encoder: str, precision: str | None = None) -> Path:
    suffix = f"-{precision}" if precision else ""
    return OUT / f"index-{encoder.replace(':', '_').replace('/', '_')}{suffix}"


def evaluate(searcher: Searcher, mode: str, qlang: str, corpus: str | None, rel: str, limit: int) -> Scores:
    qs = questions(qlang)[:limit] if limit else questions(qlang)
    r1 = r10 = mrr = either = 0.0
    for q in qs:
        hits = searcher.search(q.text, k=10, mode=mode, lang=corpus, explain=0)
        ids = [h.article_id for h in hits]
        target = doc_id(rel, q.paragraph)
        either += bool(ids) and ids[0] in (target, doc_id("en" if rel == "ar" else "ar", q.paragraph))
        if target in ids:
            rank = ids.index(target) + 1
            r1 += rank == 1
            r10 += 1
            mrr += 1 / rank
    n = len(qs) / 100
    return Scores(r1 / n, r10 / n, mrr / n, either / n)


def noisy(text: str, rng: random.Random, share: float = 0.3) -> str:
    """Re-spell ~``share`` of the words: add harakat, swap hamza/alef, ى/ي, ة/ه."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if rng.random() >= share or not word:
            continue
        letters = list(word)
        swappable = [j for j, c in enumerate(letters) if c in SWAPS]
        if swappable and rng.random() < 0.6:
            j = rng.choice(swappable)
            letters[j] = SWAPS[letters[j]]
        else:
            j = rng.randrange(len(letters))
            letters.insert(j + 1, rng.choice(HARAKAT))
        words[i] = "".join(letters)
    return " ".join(words)


def quote_cases(rng: random.Random, limit: int) -> list[tuple[str, str, int, int, str]]:
    """(kind, quote, paragraph doc id, start, end) of quotes drawn from the Arabic paragraphs."""
    cases = []
    texts = paragraphs("ar")
    for i in rng.sample(range(len(texts)), min(limit, len(texts))):
        text = texts[i]
        spans = [(a, b) for a, b in sentences(text) if 8 <= len(text[a:b].split()) <= 60]
        if not spans:
            continue
        a, b = rng.choice(spans)
        cases.append(("exact", text[a:b], doc_id("ar", i), a, b))
        cases.append(("noisy", noisy(text[a:b], rng), doc_id("ar", i), a, b))
        words = [(a + m_start, a + m_end) for m_start, m_end in _word_spans(text[a:b])]
        n = rng.randint(6, min(10, len(words)))
        w = rng.randrange(len(words) - n + 1)
        fa, fb = words[w][0], words[w + n - 1][1]
        cases.append(("fragment", noisy(text[fa:fb], rng), doc_id("ar", i), fa, fb))
    return cases


def text_of(doc: str) -> str:
    return paragraphs("ar")[int(doc.rsplit("-", 1)[1])]


def _stopword(word: str) -> bool:
    from indexer.normalize import normalize_text
    from search_app.query import STOPWORDS

    return normalize_text(word).strip("،.؟!:؛\"'()") in STOPWORDS


def _words(text: str) -> list[tuple[int, int]]:
    """Spans of the words themselves (letters and digits, as the search tokenizer sees them)."""
    import re

    return [m.span() for m in re.finditer(r"[^\W_]+", text)]


def _word_spans(text: str) -> list[tuple[int, int]]:
    import re

    return [m.span() for m in re.finditer(r"\S+", text)]


def quote_test(searcher: Searcher, limit: int) -> None:
    rng = random.Random(7)
    cases = quote_cases(rng, limit)
    print(f"\nQuote check on {len(cases) // 3} sentences drawn from the Arabic paragraphs (check_quote; R@1 = first")
    print("match is the source paragraph; covered = its span covers every word of the quoted span; search R@1 =")
    print("the quote as a hybrid query; marked = share of its non-stopwords highlighted in that top hit)")
    print(f"{'quote':<10}{'R@1':>7}{'covered':>9}{'search R@1':>12}{'marked':>9}  verdicts")
    for kind in ("exact", "noisy", "fragment"):
        rows = [c for c in cases if c[0] == kind]
        r1 = covered = searched = 0
        share = 0.0
        verdicts: dict[str, int] = {}
        for _, quote, target, start, end in rows:
            result = check_quote(searcher, quote)
            verdicts[result.verdict] = verdicts.get(result.verdict, 0) + 1
            if result.matches and result.matches[0].article_id == target:
                r1 += 1
                m = result.matches[0]
                covered += all(
                    m.start <= start + a and m.end >= start + b for a, b in _words(text_of(target)[start:end])
                )
            hits = searcher.search(quote, k=1, explain=0)
            if hits and hits[0].article_id == target:
                searched += 1
                marked = [s for p in hits[0].passages for s in p.spans]
                words = [
                    w
                    for w in _word_spans(hits[0].text[start:end])
                    if not _stopword(hits[0].text[start:end][w[0] : w[1]])
                ]
                share += sum(any(s.start <= start + a and s.end >= start + b for s in marked) for a, b in words) / max(
                    len(words), 1
                )
        n = len(rows) / 100
        summary = ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))
        marked = 100 * share / max(searched, 1)
        print(f"{kind:<10}{r1 / n:>7.1f}{covered / n:>9.1f}{searched / n:>12.1f}{marked:>9.1f}  {summary}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: hybrid,semantic,lexical")
    parser.add_argument(
        "--limit", type=int, default=0, help="questions per language (0: all 1,190; -1: skip retrieval)"
    )
    parser.add_argument("--quotes", type=int, default=100, help="Arabic paragraphs to draw quotes from")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--calibrate", action="store_true", help="also print bench.xling's translation threshold table")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: chosen by the machine)")
    parser.add_argument("--precision", default=None, help="fp32, bf16, fp16 or q4 for indexing and queries alike")
    parser.add_argument("--xling", type=int, default=300, help="sentences per direction for bench.xling (0: skip)")
    args = parser.parse_args(argv)

    index_dir = index_path(args.encoder, args.precision)
    corpus = write_corpus(OUT / "corpus.jsonl")
    runtime = {"device": args.device, "precision": args.precision}
    report = index_sources([corpus], index_dir, encoder=args.encoder, progress=True, **runtime)
    print(f"index {index_dir}: {report.summary()}", file=sys.stderr)
    searcher = Searcher.open(index_dir, **runtime)
    print(f"XQuAD, encoder {searcher.encoder.name} on {searcher.encoder.runtime}: R@1 / R@10 / MRR@10 (%)")
    print(f"{'setting':<10}" + "".join(f"{m:>24}" for m in args.modes.split(",")))
    started = time.perf_counter()
    either = []
    for name, qlang, corpus, rel in SETTINGS if args.limit >= 0 else ():
        cells = []
        for mode in args.modes.split(","):
            s = evaluate(searcher, mode, qlang, corpus, rel, args.limit)
            cells.append(f"{s.r1:6.1f} /{s.r10:6.1f} /{s.mrr:6.1f}")
            if corpus is None:
                either.append(f"{name} {mode} {s.either_r1:.1f}")
        print(f"{name:<10}" + "".join(f"{c:>24}" for c in cells), flush=True)
    if either:
        print("mixed settings, R@1 counting the paragraph or its translation (both answer): " + ", ".join(either))
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.quotes:
        quote_test(searcher, args.quotes)
    if args.xling:
        from bench import xling

        print("\nBilingual sentences and pasted quotes over XQuAD + news-dev (python -m bench.xling):")
        options = [
            *(["--precision", args.precision] if args.precision else []),
            *(["--calibrate"] if args.calibrate else []),
        ]
        xling.main(["--sentences", str(args.xling), *options])


if __name__ == "__main__":
    main()
