"""Search hits and quote checks as JSON-ready dicts and as terminal text.
Text from articles and users reaches a terminal only through ``inert.terminal``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from indexer.records import Hit, Span, heading
from search_app.inert import terminal
from search_app.quotes import QuoteCheck
from search_app.search import Results


def hit_json(hit: Hit) -> dict[str, Any]:
    """One result of ``sahafa search --json``: ``highlights`` are [start, end] offsets into the article text."""
    best = hit.best
    return {
        "article_id": hit.article_id,
        "passage_id": best.passage_id,
        "score": round(hit.score, 6),
        "title": hit.title,
        "source": hit.source,
        "date": hit.date,
        "url": hit.url,
        "lang": hit.lang,
        "author": hit.author,
        "dateline": hit.dateline,
        "passage": hit.passage_text,
        "highlights": [[s.start, s.end] for s in best.spans],
        "passage_start": best.start,
        "passage_end": best.end,
        "spans": [{"start": s.start, "end": s.end, "kind": s.kind} for s in best.spans],
        "more_passages": [
            {"passage_id": p.passage_id, "start": p.start, "end": p.end, "score": p.score} for p in hit.passages[1:]
        ],
    }


def languages_json(results: Results) -> dict[str, dict[str, int]]:
    """Per language the index holds: ``hits`` among the results, ``candidates`` among everything ranked."""
    return {lang: {"hits": c.hits, "candidates": c.candidates} for lang, c in results.languages.items()}


LANGUAGE_NAMES = {"ar": "Arabic", "en": "English"}


def languages_text(results: Results) -> str:
    """ "Arabic 7 of 52 candidates, English 3 of 41 (--lang en for more)"."""
    parts = []
    for lang, count in results.languages.items():
        more = f" (--lang {lang} for more)" if count.candidates > count.hits and len(results.languages) > 1 else ""
        parts.append(f"{LANGUAGE_NAMES.get(lang, lang)} {count.hits} of {count.candidates} candidates{more}")
    return ", ".join(parts)


def quote_json(check: QuoteCheck) -> dict[str, Any]:
    return {"quote": check.quote, "verdict": check.verdict, "matches": [asdict(m) for m in check.matches]}


def styled(text: str, start: int, end: int, spans: tuple[Span, ...]) -> str:
    """``text[start:end]`` with query words in bold yellow and the best sentence underlined (on a terminal)."""
    cuts = sorted({start, end, *(max(s.start, start) for s in spans), *(min(s.end, end) for s in spans)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        kinds = {s.kind for s in spans if s.start <= a and s.end >= b}
        term = bool(kinds & {"term", "phrase"})
        piece = terminal(text[a:b])
        out.append(click.style(piece, fg="yellow" if term else None, bold=term, underline="sentence" in kinds))
    return "".join(out)


def hit_text(hit: Hit, rank: int) -> str:
    best = hit.best
    where = ", ".join(x for x in (hit.source, hit.date) if x)
    lines = [
        terminal(f"{rank}. {hit.heading}  [{hit.lang}] {where}  (score {hit.score:.3f}, id {hit.article_id})"),
    ]
    if hit.url:
        lines.append(terminal(f"   {hit.url}"))
    snippet = styled(hit.text, best.start, best.end, best.spans).replace("\n", " ")
    lines.append(f"   {'… ' if best.start else ''}{snippet}{' …' if best.end < len(hit.text) else ''}")
    return "\n".join(lines)


def quote_text(check: QuoteCheck) -> str:
    lines = [f"verdict: {check.verdict}"]
    for i, m in enumerate(check.matches, 1):
        where = ", ".join(x for x in (m.source, m.date) if x) or "no outlet or date"
        title = heading(m.title, m.article_id)
        lines.append(f"{i}. {m.verdict}: {title} ({where}) id {m.article_id} [{m.start}:{m.end}]")
        if m.url:
            lines.append(f"   {m.url}")
        lines.append(f"   «{m.text}»")
        changed = [d for d in m.diff if d.op != "equal"]
        for d in changed:
            lines.append(f"   {d.op}: {d.quote or '-'} → {d.source or '-'}")
    return terminal("\n".join(lines))
