"""``make bench-speakers``: precision and recall of "who said it" (``indexer.speakers``) on hand-labelled sentences.

``bench/speakers.jsonl`` holds 260 sentences of news-dev in three splits, each drawn with its own fixed seed from
sentences that hold a reporting verb or phrase and from sentences that hold none:

- ``tuning`` (75 Arabic, 65 English): what the rules were first written against;
- ``tuning-2`` (30 + 30, from articles the first split does not touch): labelled blind, scored once (precision
  0.78, recall 0.75), then its misses were used to mend the rules, so it is no longer blind;
- ``held-out`` (30 + 30, from articles neither other split touches): labelled before the rules ever ran on it
  and never used to change them. Its figures are the honest ones.

Each sentence was labelled by reading it with the article around it. ``speaker`` is who the sentence attributes
its words to: a person's name as fully as the article gives it, else the body, outlet, document or role named
(«الوزارة», "the company", "dealers"); for a verb without a subject, the speaker of the earlier sentence it
continues; null for a sentence that reports nobody. Where two wordings name the same speaker, both are listed.

A predicted speaker is right when, with spelling, case and punctuation folded, it is one of the listed wordings,
or one of them ends with it or it ends with one of them, the shorter in one or two words and the longer in at
most four (a surname alone: «السيسي» for «الرئيس السيسي»). Precision: right predictions of all sentences given a
speaker; recall: right predictions of all sentences that have one. Writes ``bench-out/speakers/results.json``;
``--misses`` lists every wrong or missing speaker.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from indexer.normalize import normalize_text, tokens
from indexer.sentences import split_sentences
from indexer.speakers import attribute

LABELS = Path(__file__).with_name("speakers.jsonl")
NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news-dev" / "articles.jsonl"
OUT = Path("bench-out") / "speakers"
MAX_WORDS = 4
MAX_SHORT = 2  # a surname, or a first name and a surname


def words(text: str) -> list[str]:
    return [t.text for t in tokens(normalize_text(text))]


def right(predicted: str, gold: Sequence[str]) -> bool:
    said = words(predicted)
    for wording in gold:
        named = words(wording)
        short, long = sorted((said, named), key=len)
        if said == named or (0 < len(short) <= MAX_SHORT and long[-len(short) :] == short and len(long) <= MAX_WORDS):
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="print every wrong or missing speaker")
    args = parser.parse_args()
    labels = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    articles = {}
    with NEWS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            articles[row["id"]] = row
    found: dict[tuple[str, int, int], object] = {}
    for article_id in {row["article_id"] for row in labels}:
        article = articles[article_id]
        spans = split_sentences(article["text"])
        for span, attribution in zip(spans, attribute(article["text"], spans, article["lang"]), strict=True):
            found[(article_id, *span)] = attribution
    table = {}
    for split, lang in [(s, lang) for s in ("held-out", "tuning-2", "tuning") for lang in ("ar", "en", "all")]:
        rows = [r for r in labels if lang in ("all", r["lang"]) and r["split"] == split]
        predicted = correct = labelled = 0
        for row in rows:
            guess = found[(row["article_id"], row["start"], row["end"])]
            labelled += row["speaker"] is not None
            if guess is None:
                if row["speaker"] and args.misses and lang != "all":
                    print(f"missed  {row['article_id']}: {row['speaker'][0]} | {row['text'][:120]}")
                continue
            predicted += 1
            if row["speaker"] and right(guess.speaker, row["speaker"]):
                correct += 1
            elif args.misses and lang != "all":
                print(f"wrong   {row['article_id']}: {guess.speaker!r} (gold {row['speaker']}) | {row['text'][:120]}")
        table[f"{split} {lang}"] = {
            "sentences": len(rows), "with a speaker": labelled, "predicted": predicted, "right": correct,
            "precision": round(correct / predicted, 3) if predicted else None,
            "recall": round(correct / labelled, 3) if labelled else None,
        }  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("| split, lang | sentences | with a speaker | predicted | right | precision | recall |")
    print("|---|---|---|---|---|---|---|")
    for lang, r in table.items():
        print(f"| {lang} | {' | '.join(str(v) for v in r.values())} |")


if __name__ == "__main__":
    main()
