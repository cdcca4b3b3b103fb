"""Generated hostile input for ``make bench-reliability``: queries, and a corpus with every kind of bad record.

Everything is drawn from a seeded ``random.Random``, so two runs see the same input. Words come from real
news-dev articles; the hostile parts are FTS5 syntax, quote marks, direction controls, NUL and other control
characters, lone surrogates, 200 KB tokens, markup and ``javascript:`` URLs.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

SYNTAX = list("\"*-:()^+{}[]~'`,.;!?\\/|&%$#@") + ["NEAR", "AND", "OR", "NOT", "NEAR(", " ", "\t", "\n"]
CONTROLS = ["\u200f", "\u200e", "\u202e", "\u202d", "\u202c", "\u2066", "\u2067", "\u2069", "\ufeff", "\x00", "\x1b"]
QUOTES = ['"', "«", "»", "“", "”", "„"]
MARKUP = ['<script>alert(1)</script>', '<img src=x onerror="alert(1)">', "javascript:alert(1)", "&lt;b&gt;", "]]>"]
BIDI_RUNS = ["\u202e{}\u202c", "\u2067{}\u2069", "\u202d{}", "\u202e\u2066{}\u2069"]
MODES = ["hybrid", "semantic", "lexical"]


@dataclass(frozen=True)
class Query:
    """One generated query: the text, the kind it was drawn as, and search options."""

    text: str
    kind: str
    options: dict = field(default_factory=dict)


def words_of(news: Path, limit: int = 300) -> list[str]:
    """Real words (Arabic and English) from the first ``limit`` articles of news-dev."""
    words: list[str] = []
    with news.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= limit:
                break
            words += json.loads(line)["text"].split()[:80]
    return words


def queries(n: int, words: list[str], seed: int = 11) -> list[Query]:
    """``n`` hostile queries: syntax soup, 500 quoted phrases, 200 KB tokens, bidi runs, markup, control
    characters, lone surrogates and odd options (unknown modes, impossible dates, k of 0 or a billion)."""
    rng = random.Random(seed)
    drawn = [_quoted(rng, words) for _ in range(min(500, n))]
    drawn += [_huge(rng, words) for _ in range(min(20, max(0, n - len(drawn))))]
    kinds = [_soup, _bidi, _markup, _controls, _surrogates, _mixed]
    while len(drawn) < n:
        drawn.append(rng.choice(kinds)(rng, words))
    rng.shuffle(drawn)
    return [Query(q.text, q.kind, _options(rng)) for q in drawn]


def _options(rng: random.Random) -> dict:
    options: dict = {"mode": rng.choice(MODES), "k": rng.choice([1, 5, 10, 0, 1000])}
    roll = rng.random()
    if roll < 0.1:
        options["lang"] = rng.choice(["ar", "en", "xx", "AR", ""])
    elif roll < 0.2:
        options["date_from"] = rng.choice(["2018-01-01", "2024-13-45", "yesterday", "٢٠١٨-٠٦-٣٠", "0000-00-00"])
    elif roll < 0.25:
        options["mode"] = rng.choice(["fuzzy", "", "HYBRID"])
    elif roll < 0.3:
        options["sources"] = [rng.choice(["Reuters", "'; DROP TABLE articles; --", "\x00", "a" * 1000])]
    return options


def _pick(rng: random.Random, words: list[str], lo: int, hi: int) -> list[str]:
    at = rng.randrange(len(words))
    return words[at : at + rng.randint(lo, hi)]


def _quoted(rng: random.Random, words: list[str]) -> Query:
    phrase = " ".join(_pick(rng, words, 1, 12))
    open_mark, close_mark = rng.choice([('"', '"'), ("«", "»"), ("“", "”"), ('"', ""), ("", '"')])
    around = " ".join(_pick(rng, words, 0, 4))
    return Query(f"{around} {open_mark}{phrase}{close_mark}".strip(), "quoted phrase")


def _huge(rng: random.Random, words: list[str]) -> Query:
    token = rng.choice(["x", "ب", "ال", "9", "\u202e"]) * 200_000
    return Query(f"{rng.choice(words)} {token}", "200 KB token")


def _soup(rng: random.Random, words: list[str]) -> Query:
    parts = [rng.choice(SYNTAX + words + QUOTES) for _ in range(rng.randint(0, 40))]
    return Query("".join(parts) if rng.random() < 0.5 else " ".join(parts), "FTS syntax")


def _bidi(rng: random.Random, words: list[str]) -> Query:
    return Query(rng.choice(BIDI_RUNS).format(" ".join(_pick(rng, words, 1, 8))), "bidi run")


def _markup(rng: random.Random, words: list[str]) -> Query:
    return Query(f"{' '.join(_pick(rng, words, 0, 5))} {rng.choice(MARKUP)}", "markup")


def _controls(rng: random.Random, words: list[str]) -> Query:
    parts = _pick(rng, words, 1, 6)
    return Query("".join(w + rng.choice(CONTROLS) for w in parts), "control characters")


def _surrogates(rng: random.Random, words: list[str]) -> Query:
    return Query(f"{rng.choice(words)} {chr(rng.randint(0xD800, 0xDFFF))} {rng.choice(words)}", "lone surrogate")


def _mixed(rng: random.Random, words: list[str]) -> Query:
    text = " ".join(_pick(rng, words, 1, 30))
    return Query(text * rng.choice([1, 1, 50]), "long or plain")


# --- corpus ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """A generated folder: the ids that must be indexed, and each bad record's ``file:line`` prefix."""

    folder: Path
    valid: set[str]
    bad: list[str]
    skipped_files: list[str]


def corpus(folder: Path, news_rows: list[dict], *, big_field_mb: int = 50) -> Corpus:
    """Files of every format with valid records among hostile ones."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [dict(r, id=f"ok-{i}") for i, r in enumerate(news_rows)]
    for row in rows:
        row.pop("collection", None)
    valid = {r["id"] for r in rows}
    bad: list[str] = []
    odd = folder / "odd.jsonl"
    big = rows[5]["text"] + " " + "كلمة " * (big_field_mb * 2**20 // 9)  # a 50 MB field
    lines = [
        json.dumps(rows[0], ensure_ascii=False).encode(),
        b'{"id": "bad-utf8", "text": "caf\xe9"}',
        "\ufeff".encode() + json.dumps(rows[1]).encode(),  # a BOM on a line of its own
        b'{"id": "deep", "text": "x", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"id": "huge-int", "text": "x", "n": ' + b"9" * 5000 + b"}",
        json.dumps(dict(rows[2], url="  JaVaScRiPt:alert(1)", title="<script>alert(1)</script>")).encode(),
        json.dumps(dict(rows[3], text="\u202e" + rows[3]["text"] + "\u202c", source="\x1b]0;x\x07Wire")).encode(),
        json.dumps(dict(rows[4], date="2024-01-01T10:00:00+99:00")).encode(),
        b'{"id": "surrogate", "text": "\\ud800 alone"}',
        b"[1, 2, 3]",
        b'{"id": "no-text"}',
        json.dumps(dict(rows[5], text=big), ensure_ascii=False).encode(),  # read; its text cut to MAX_TEXT_CHARS
        b'{"id": "over-limit", "text": "' + b"y" * (70 * 2**20) + b'"}',
        json.dumps(rows[6], ensure_ascii=False).encode(),
    ]
    odd.write_bytes(b"\r\n".join(lines) + b"\r\n")  # CRLF line ends
    bad += [f"{odd}:{n}" for n in (2, 4, 5, 9, 10, 11, 13)]
    csv_file = folder / "stray.csv"
    good = f'{rows[7]["id"]},"{_csv(rows[7]["title"])}","{_csv(rows[7]["text"])}"\r\n'
    csv_file.write_text(
        "id,title,text\r\n" + good + 'stray,"a title,the text runs on\r\n'
        f'{rows[8]["id"]},plain,"{_csv(rows[8]["text"])}"\r\n',
        encoding="utf-8-sig",
    )
    bad.append(f"{csv_file}:{2 + good.count(chr(10))}")  # the line the stray row starts on
    page = folder / "page.html"
    page.write_text(
        "<html><head><title>Hostile page</title><script>alert(1)</script></head><body><article>"
        f"<p>{rows[9]['text']}</p><p onclick=\"alert(1)\"><a href=\" javascript:alert(1)\">link</a></p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    valid.discard(rows[9]["id"])
    valid.add("page")
    outside = folder.parent / f"{folder.name}-outside.txt"
    outside.write_text("a private file outside the corpus folder", encoding="utf-8")
    (folder / "leak.txt").symlink_to(outside)
    os.mkfifo(folder / "pipe.jsonl")
    (folder / "empty.csv").write_bytes(b"")
    bad.append(f"{folder / 'empty.csv'}:1")
    latin = folder / "latin1.txt"
    latin.write_bytes("Café owners in Beirut said prices rose again this week.".encode("latin-1"))
    valid.add("latin1")
    used = {r["id"] for r in rows[:10]}
    valid &= used | {"page", "latin1"}
    return Corpus(folder, valid, bad, [f"{folder / 'leak.txt'}", f"{folder / 'pipe.jsonl'}"])


def _csv(text: str) -> str:
    return text.replace('"', '""')
