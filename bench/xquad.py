"""XQuAD (Arabic + English, parallel) as a corpus and as queries, for the quality benchmark."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT.parent / "shared" / "data" / "xquad"
LANGS = ("ar", "en")


@dataclass(frozen=True)
class Question:
    qid: str
    lang: str
    text: str
    paragraph: int  # index of its paragraph, the same in both languages


@lru_cache(maxsize=2)
def paragraphs(lang: str) -> list[str]:
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    return [p["context"] for article in data for p in article["paragraphs"]]


def questions(lang: str) -> list[Question]:
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    out, i = [], 0
    for article in data:
        for p in article["paragraphs"]:
            out += [Question(f"{lang}-{q['id']}", lang, q["question"], i) for q in p["qas"]]
            i += 1
    return out


def doc_id(lang: str, paragraph: int) -> str:
    return f"xquad-{lang}-{paragraph:03d}"


def write_corpus(path: Path) -> Path:
    """Both languages' 240 paragraphs as one JSONL corpus (480 articles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for lang in LANGS:
            for i, text in enumerate(paragraphs(lang)):
                row = {"id": doc_id(lang, i), "title": "", "text": text, "lang": lang, "source": f"XQuAD {lang}"}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path
