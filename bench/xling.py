"""``python -m bench.xling``: a sentence in one language must find the article that carries its translation.

XQuAD's Arabic and English files are the same 240 paragraphs translated, so the sentences of an English
paragraph are the translation of its Arabic twin. ``xling-sent en→ar``: the queries are English sentences
(at least 8 words) of XQuAD paragraphs; the corpus is the 240 Arabic paragraphs plus all 1,000 news-dev
articles (both languages) and no English paragraph; the one relevant article is the Arabic twin.
``xling-sent ar→en`` is the mirror. ``quote en`` / ``quote ar``: fragments of 8–15 words pasted from a
paragraph, searched over the corpus that holds that paragraph (exact, and for Arabic also re-spelled). Every
query goes through ``Searcher.search`` with the default settings and no language filter.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.xquad import ROOT, doc_id, paragraphs

OUT = ROOT / "bench-out" / "xling"
NEWS = ROOT.parent / "shared" / "data" / "news-dev" / "articles.jsonl"
OTHER = {"ar": "en", "en": "ar"}


@dataclass(frozen=True)
class Case:
    setting: str
    query: str
    gold: str  # article id of the relevant XQuAD paragraph


def corpus(lang: str) -> Path:
    """The 240 XQuAD paragraphs of ``lang`` as JSONL (the other language's are left out)."""
    path = OUT / f"xquad-{lang}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": doc_id(lang, i), "title": "", "text": t, "lang": lang, "source": f"XQuAD {lang}"}
            for i, t in enumerate(paragraphs(lang))]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def build(target_lang: str, precision: str | None) -> Path:
    """news-dev (embedded once, then copied) plus the XQuAD paragraphs of ``target_lang``."""
    from indexer.build import index_sources

    news = OUT / "index-news"
    index_sources([NEWS], news, precision=precision, progress=True)
    path = OUT / f"index-{target_lang}"
    if not (path / "config.json").is_file():
        shutil.copytree(news, path)
    report = index_sources([NEWS, corpus(target_lang)], path, precision=precision, progress=True)
    print(f"index {path}: {report.summary()}", file=sys.stderr)
    return path


def sentence_cases(query_lang: str, rng: random.Random, limit: int) -> list[Case]:
    """Sentences of ``query_lang`` paragraphs whose gold is the twin paragraph in the other language."""
    from indexer.passages import sentences

    setting, target = f"xling-sent {query_lang}→{OTHER[query_lang]}", OTHER[query_lang]
    cases = []
    for i, text in enumerate(paragraphs(query_lang)):
        spans = [(a, b) for a, b in sentences(text) if len(text[a:b].split()) >= 8]
        cases += [Case(setting, text[a:b], doc_id(target, i)) for a, b in spans]
    return rng.sample(cases, min(limit, len(cases)))


def quote_cases(lang: str, rng: random.Random, limit: int) -> list[Case]:
    """Fragments of 8–15 words of ``lang`` paragraphs, exact (and re-spelled for Arabic), gold the paragraph."""
    from bench.quality import noisy

    cases = []
    texts = paragraphs(lang)
    for i in rng.sample(range(len(texts)), min(limit, len(texts))):
        words = texts[i].split()
        n = rng.randint(8, min(15, len(words)))
        w = rng.randrange(len(words) - n + 1)
        fragment = " ".join(words[w : w + n])
        cases.append(Case(f"quote {lang}", fragment, doc_id(lang, i)))
        if lang == "ar":
            cases.append(Case("quote ar re-spelled", noisy(fragment, rng), doc_id(lang, i)))
    return cases


def evaluate(searcher, cases: list[Case]) -> dict[str, tuple[float, float, int]]:  # noqa: ANN001
    """setting → (R@1, R@10, queries), in %."""
    found: dict[str, list[int]] = {}
    for case in cases:
        ids = [h.article_id for h in searcher.search(case.query, k=10)]
        found.setdefault(case.setting, []).append(ids.index(case.gold) + 1 if case.gold in ids else 0)
    return {s: (100 * sum(r == 1 for r in ranks) / len(ranks), 100 * sum(r > 0 for r in ranks) / len(ranks),
                len(ranks)) for s, ranks in found.items()}  # fmt: skip


def calibrate(searcher, cases: list[Case]) -> list[tuple[float, float]]:  # noqa: ANN001
    """(best match in the gold article, best match in any other article), both in the other language, for each
    bilingual sentence case: what ``check_quote`` compares with ``TRANSLATION_THRESHOLD`` (``quotes.meanings``)."""
    from search_app.quotes import meanings

    pairs = []
    for case in cases:
        target = "ar" if "→ar" in case.setting else "en"
        found = [m for m in meanings(searcher, case.query) if m.lang == target]
        gold = max((m.similarity for m in found if m.article.id == case.gold), default=0.0)
        other = max((m.similarity for m in found if m.article.id != case.gold), default=0.0)
        pairs.append((gold, other))
    return pairs


def compression_cost(searcher, cases: list[Case]) -> tuple[float, float, int]:  # noqa: ANN001
    """What int8 codes cost the sentence index: every sentence re-embedded in float32 and searched exactly, against
    the SQ8 index, for the same queries: (recall@10 of the exact top 10, % with the same nearest sentence, n)."""
    import numpy as np

    store = searcher.retrieval.index.store
    sql = 'SELECT s.id, a.text, s.start, s."end" FROM sentences s JOIN articles a ON a.id = s.article_id'
    rows = store.db.execute(sql)
    ids, texts = zip(*[(r[0], r[1][r[2] : r[3]]) for r in rows], strict=True)
    exact = searcher.sentence_encoder.encode(list(texts))
    ids_array = np.asarray(ids)
    found = same = 0
    for case in cases:
        query = searcher.sentence_query_vector(case.query)
        truth = ids_array[np.argsort(-(exact @ query))[:10]]
        _, approx = searcher.retrieval.index.sentences.search(query, 10)
        found += len(set(truth.tolist()) & set(approx.tolist()))
        same += bool(len(approx)) and approx[0] == truth[0]
    return 100 * found / (10 * len(cases)), 100 * same / len(cases), len(ids)


def threshold_table(pairs: list[tuple[float, float]]) -> None:
    from search_app.quotes import TRANSLATION_THRESHOLD

    print(f"\ntranslation verdict over {len(pairs)} sentences: recall = the translation passes; "
          "false = another article's sentence passes (a wrong source would be shown)")  # fmt: skip
    print(f"{'threshold':>10}{'recall':>8}{'false':>8}")
    for t in (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85):
        recall = 100 * sum(g >= t for g, _ in pairs) / len(pairs)
        false = 100 * sum(o >= t for _, o in pairs) / len(pairs)
        mark = "  <- TRANSLATION_THRESHOLD" if abs(t - TRANSLATION_THRESHOLD) < 1e-9 else ""
        print(f"{t:>10.2f}{recall:>8.1f}{false:>8.1f}{mark}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.xling", description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300, help="query sentences per direction")
    parser.add_argument("--quotes", type=int, default=100, help="paragraphs to paste a fragment from, per language")
    parser.add_argument("--precision", default=None, help="fp32, bf16, fp16 or q4 (default: the machine's)")
    parser.add_argument("--calibrate", action="store_true", help="print the translation threshold table too")
    args = parser.parse_args(argv)
    pairs: list[tuple[float, float]] = []
    from search_app.search import Searcher

    rng = random.Random(7)
    print("setting                R@1    R@10  queries  (default search, no language filter, k=10)")
    for target in ("ar", "en"):
        searcher = Searcher.open(build(target, args.precision), precision=args.precision)
        try:
            cases = sentence_cases(OTHER[target], rng, args.sentences) + quote_cases(target, rng, args.quotes)
            for setting, (r1, r10, n) in evaluate(searcher, cases).items():
                print(f"{setting:<21}{r1:6.1f}{r10:8.1f}{n:9d}", flush=True)
            if args.calibrate:
                bilingual = [c for c in cases if c.setting.startswith("xling")]
                pairs += calibrate(searcher, bilingual)
                recall, same, n = compression_cost(searcher, bilingual)
                print(f"int8 sentence index vs float32 exact search over its {n:,} sentences: "
                      f"recall@10 {recall:.1f} %, same nearest sentence {same:.1f} %", flush=True)  # fmt: skip
        finally:
            searcher.close()
    if pairs:
        threshold_table(pairs)


if __name__ == "__main__":
    main()
