"""Search hits and quote checks as JSON-ready dicts and as terminal text.
Text from articles and users reaches a terminal only through ``inert.terminal``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from indexer.records import Copy, Hit, Span, heading
from search_app.export import story_parts
from search_app.inert import terminal
from search_app.quotes import QuoteCheck, QuoteMatch
from search_app.search import Results
from search_app.timeline import Timeline


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
        "speakers": list(hit.speakers),
        "also_in": hit.also_in,
        "first_published": copy_json(first) if (first := hit.first_published) else None,
        "copies": [copy_json(c) | {"title": c.title, "lang": c.lang} for c in hit.copies],
        "copy_count": hit.copies_total,
    }


def copy_json(copy: Copy) -> dict[str, Any]:
    return {"article_id": copy.article_id, "source": copy.source, "date": copy.date, "url": copy.url}


def copies_text(hit: Hit) -> str | None:
    """ "also in 3 outlets (AFP, SPA, CNN); first published 2015-07-31 by SPA (id snn-1094)", or None."""
    return "; ".join(story_parts(hit)) or None


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
    return {
        "quote": check.quote,
        "verdict": check.verdict,
        "matches": [asdict(m) for m in check.matches],
        "timeline": timeline_json(check.timeline),
    }


def timeline_json(found: Timeline) -> dict[str, Any]:
    """First and last dated appearance of the quote's words and each outlet that ran them, in order."""
    return {
        "appearances": found.appearances,
        "undated": found.undated,
        "first": _appearance(found.first),
        "last": _appearance(found.last),
        "outlets": [asdict(run) for run in found.outlets],
    }


def _appearance(match: QuoteMatch | None) -> dict[str, Any] | None:
    if match is None:
        return None
    return {"article_id": match.article_id, "source": match.source, "date": match.date, "url": match.url,
            "verdict": match.verdict}  # fmt: skip


def timeline_text(found: Timeline) -> list[str]:
    """ "first: 2015-07-31 SPA (id …)", "last: …", "outlets: SPA 2015-07-31 (2), …"."""
    if not found.appearances:
        return []
    lines = []
    if found.first is not None and found.last is not None:
        for name, match in (("first", found.first), ("last", found.last)):
            lines.append(f"{name} appearance: {match.date} {match.source or 'unnamed outlet'} (id {match.article_id})")
    runs = [f"{r.source or 'unnamed'} {r.first or 'undated'}{f'..{r.last}' if r.last != r.first else ''} ({r.articles})"
            for r in found.outlets]  # fmt: skip
    lines.append(f"in {found.appearances} article(s), {len(found.outlets)} outlet(s): {', '.join(runs)}")
    return lines


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
    if copies := copies_text(hit):
        lines.append(terminal(f"   {copies}"))
    if hit.speakers:
        lines.append(terminal(f"   quotes: {', '.join(hit.speakers)}"))
    snippet = styled(hit.text, best.start, best.end, best.spans).replace("\n", " ")
    lines.append(f"   {'… ' if best.start else ''}{snippet}{' …' if best.end < len(hit.text) else ''}")
    return "\n".join(lines)


def quote_text(check: QuoteCheck) -> str:
    lines = [f"verdict: {check.verdict}"]
    for i, m in enumerate(check.matches, 1):
        where = ", ".join(x for x in (m.source, m.date) if x) or "no outlet or date"
        title = heading(m.title, m.article_id)
        lines.append(f"{i}. {m.verdict}: {title} ({where}) id {m.article_id} [{m.start}:{m.end}]")
        if m.speaker:
            lines.append(f"   said by {m.speaker}" + (f", {m.speaker_title}" if m.speaker_title else ""))
        if m.url:
            lines.append(f"   {m.url}")
        lines.append(f"   «{m.text}»")
        changed = [d for d in m.diff if d.op != "equal"]
        for d in changed:
            lines.append(f"   {d.op}: {d.quote or '-'} → {d.source or '-'}")
    lines += ["timeline: " + line for line in timeline_text(check.timeline)]
    return terminal("\n".join(lines))
