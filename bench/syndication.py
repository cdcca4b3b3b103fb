"""``make bench-syndication``: precision and recall of syndication clusters (``indexer.syndication``).

news-dev's 1,000 articles plus re-edited copies of ``--originals`` of them (seeded): for each, one to three
copies, each made by one or two of these edits: the first 60–80 % of its sentences kept (trimmed paragraphs),
one word in thirty replaced and a credit line added (a re-edit), Arabic letters re-spelled in half the
sentences (ا→أ, ه→ة, ي→ى). A copy keeps no headline (clusters are made from the text alone). Truth: each
original with its copies. Pairs are scored: a pair is predicted when both articles are in one cluster.

Pairs of two news-dev articles (not injected) that the clusters join are listed apart: news-dev holds real
re-runs of one story, which the injected truth does not know of; ``precision`` counts them as false, and
``precision_injected`` leaves them out. Writes ``bench-out/syndication/results.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from itertools import combinations
from pathlib import Path

from indexer.passages import sentences
from indexer.syndication import CONTAINMENT, LSH_THRESHOLD, Clusters

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news-dev" / "articles.jsonl"
OUT = Path("bench-out") / "syndication"
RESPELL = str.maketrans({"ا": "أ", "ه": "ة", "ي": "ى"})
FILLERS = ["the", "and", "said", "in", "في", "من", "قال", "على"]
EDITS = ["trim", "reword", "respell", "trim+reword", "trim+respell"]


def edited(text: str, kind: str, rng: random.Random) -> str:
    parts = [text[a:b] for a, b in sentences(text)]
    if kind == "trim" and len(parts) > 3:
        parts = parts[: max(2, int(len(parts) * rng.uniform(0.6, 0.8)))]
    elif kind == "reword":
        words = " ".join(parts).split()
        for _ in range(max(1, len(words) // 30)):
            words[rng.randrange(len(words))] = rng.choice(FILLERS)
        return " ".join(words) + " (Reporting by the desk; editing by the desk)"
    elif kind == "respell":
        parts = [p.translate(RESPELL) if rng.random() < 0.5 else p for p in parts]
    return " ".join(parts)


def pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in combinations(g, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=150, help="news-dev articles given re-edited copies")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    docs = {r["id"]: r["text"] for r in rows}
    truth: dict[str, list[str]] = {}
    for row in rng.sample([r for r in rows if len(r["text"]) > 800], args.originals):
        members = [row["id"]]
        for j, kind in enumerate(rng.sample(EDITS, rng.randint(1, 3))):
            text = row["text"]
            for step in kind.split("+"):
                text = edited(text, step, rng)
            copy = f"{row['id']}~copy{j}"
            docs[copy] = text
            members.append(copy)
        truth[row["id"]] = members
    order = list(docs)
    rng.shuffle(order)  # copies arrive before and after their originals, as they do in an archive
    clusters = Clusters()
    started = time.perf_counter()
    for article_id in order:
        clusters.add(article_id, docs[article_id])
    seconds = time.perf_counter() - started
    expected, found = pairs(list(truth.values())), pairs(clusters.groups())
    hits = found & expected
    natural = sorted(p for p in found - expected if "~copy" not in p[0] and "~copy" not in p[1])
    injected = found - set(natural)
    result = {
        "articles": len(docs),
        "originals": args.originals,
        "copies": len(docs) - len(rows),
        "lsh_threshold": LSH_THRESHOLD,
        "containment": CONTAINMENT,
        "true_pairs": len(expected),
        "predicted_pairs": len(found),
        "precision": round(len(hits) / max(1, len(found)), 4),
        "precision_injected": round(len(hits) / max(1, len(injected)), 4),
        "recall": round(len(hits) / max(1, len(expected)), 4),
        "missed": sorted(expected - found)[:20],
        "news_dev_pairs_joined": natural,
        "articles_per_second": round(len(docs) / seconds, 1),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| articles | copies | true pairs | predicted | precision | precision (injected) | recall | articles/s |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {result['articles']} | {result['copies']} | {result['true_pairs']} | {result['predicted_pairs']} | "
          f"{result['precision']:.3f} | {result['precision_injected']:.3f} | {result['recall']:.3f} | "
          f"{result['articles_per_second']} |")  # fmt: skip
    for a, b in natural:
        print(f"joined within news-dev: {a} ~ {b}")


if __name__ == "__main__":
    main()
