"""HTML for the page: result cards, the article view, quote verdicts and word diffs. No streamlit here.

Everything that comes from an article or a user is escaped (``inert.escape`` or highlight.render_html/mark)
before any element is added around it. Every fragment is one line, so that Markdown never re-reads it: a
blank line inside an HTML block would end the block and hand the rest to the Markdown parser.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from indexer.records import Hit, Span
from search_app.export import day, display_title, story_parts
from search_app.highlight import mark, render_html, sentence_units, term_spans
from search_app.inert import escape, has_direction_controls
from search_app.query import parse_query
from search_app.quotes import QuoteCheck, QuoteMatch, WordDiff
from search_app.timeline import Timeline

MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|<>~$:]")
RESULTS = 20  # articles a result page shows
PASSAGE_ANCHOR = "sahafa-passage"
TITLE_CHARS = 140
SNIPPET_CHARS = 360  # a result shows the sentences around its best match, about this long
QUOTE_CONTEXT = 240  # characters of the article shown on each side of a quote match
LANG_NAMES = {"ar": "Arabic", "en": "English"}
VERDICT_TEXT = {
    "verbatim": "Found word for word.",
    "normalised": "The same words, spelled differently (diacritics, hamza, ى/ي, ة/ه, digits, case or punctuation).",
    "close": "Most of the words, in the same order; the differences are marked word by word below.",
    "translation": "Said in the other language: the original sentence is shown with outlet and date, earliest first.",
    "paraphrase": "The same meaning in other words, in the same language.",
    "not found": "No article in the index carries this quote.",
}

LEGEND = (
    '<div class="sahafa-legend"><mark class="sahafa-term">query words</mark>'
    '<mark class="sahafa-sentence">best-matching sentence</mark>'
    '<span class="sahafa-passage">matched passage</span></div>'
)
CONTROLS_NOTE = (
    '<div class="sahafa-warning">The matched words hold Unicode direction controls (shown as '
    '<span class="sahafa-control">RLO</span> and the like): other screens may show these words in another order. '
    "They are not applied here, so what you read is what was matched.</div>"
)
DIFF_LEGEND = (
    '<div class="sahafa-legend"><del class="sahafa-del">the quote\'s words</del>'
    '<ins class="sahafa-ins">the source\'s words</ins></div>'
)

CSS = """
.sahafa-card-title{font-size:1.12rem;font-weight:600;line-height:1.5;unicode-bidi:plaintext;margin:0 0 .2rem}
.sahafa-rank{display:inline-block;min-width:1.6em;padding:0 .35em;margin-inline-end:.5rem;border-radius:.8em;
  background:#f1f3f5;color:#495057;font-size:.8rem;font-weight:600;text-align:center;vertical-align:.15em}
.sahafa-meta{display:flex;flex-wrap:wrap;align-items:center;gap:.2rem .8rem;color:#495057;font-size:.86rem;
  margin:.15rem 0 .6rem}
.sahafa-meta a{color:#1c64c8;text-decoration:none} .sahafa-meta a:hover{text-decoration:underline}
.sahafa-badge{display:inline-block;padding:.05rem .5rem;border-radius:.7rem;font-size:.74rem;font-weight:600}
.sahafa-badge-ar{background:#e3f4e8;color:#1b6b34} .sahafa-badge-en{background:#e6edfc;color:#1d4ed8}
.sahafa-score{font-variant-numeric:tabular-nums;color:#868e96}
.sahafa-text{font-size:1.02rem;line-height:1.8;overflow-wrap:anywhere;color:#212529}
.sahafa-rtl .sahafa-text,.sahafa-text.sahafa-rtl{direction:rtl;text-align:right !important;font-size:1.1rem;
  font-family:"Noto Naskh Arabic","Noto Sans Arabic","Segoe UI",Tahoma,"DejaVu Sans",sans-serif}
.sahafa-ltr .sahafa-text,.sahafa-text.sahafa-ltr{direction:ltr;text-align:left !important}
.sahafa-card-title.sahafa-rtl,.sahafa-article-title.sahafa-rtl{direction:rtl;text-align:right}
.sahafa-snippet{background:#fafbfc;border-inline-start:3px solid #dee2e6;padding:.45rem .8rem;border-radius:.3rem;
  margin-bottom:.5rem}
mark.sahafa-term{background:#ffe066;color:inherit;padding:0 .12em;border-radius:.2em}
mark.sahafa-sentence{background:rgba(37,99,235,.1);color:inherit;padding:0;
  text-decoration:underline 2px #2563eb;text-underline-offset:.3em;text-decoration-skip-ink:none}
.sahafa-passage{background:#eef6ee;box-shadow:0 0 0 .3em #eef6ee;border-radius:.2em}
.sahafa-article-title{font-size:1.6rem;font-weight:700;line-height:1.4;unicode-bidi:plaintext;margin:.4rem 0}
.sahafa-article .sahafa-text{font-size:1.08rem;line-height:1.9}
.sahafa-legend{font-size:.82rem;color:#6c757d;margin:.2rem 0 .8rem}
.sahafa-legend mark,.sahafa-legend del,.sahafa-legend ins,.sahafa-legend span{margin:0 .25rem}
.sahafa-verdict{border-radius:.5rem;padding:.8rem 1rem;margin:.6rem 0 1rem;border:1px solid transparent}
.sahafa-verdict-name{font-size:1.25rem;font-weight:700;text-transform:capitalize;margin-inline-end:.6rem}
.sahafa-v-verbatim{background:#e3f4e8;border-color:#a9dcb8;color:#14532d}
.sahafa-v-normalised{background:#e6f4f1;border-color:#a3d9cd;color:#134e4a}
.sahafa-v-close{background:#fff4db;border-color:#f5d38a;color:#713f12}
.sahafa-v-translation{background:#f3ecff;border-color:#d4c1fb;color:#4c1d95}
.sahafa-v-paraphrase{background:#eef0ff;border-color:#c1c7fb;color:#312e81}
.sahafa-v-not-found{background:#f1f3f5;border-color:#dee2e6;color:#343a40}
del.sahafa-del,del.sahafa-missing{color:#b42318;background:#fde8e8;text-decoration:line-through 2px;padding:0 .1em}
ins.sahafa-ins,ins.sahafa-extra{color:#14532d;background:#d3f3dc;text-decoration:none;padding:0 .1em;font-weight:600}
.sahafa-control{display:inline-block;direction:ltr;unicode-bidi:isolate;font:600 .68rem/1.2 monospace;color:#b42318;
  border:1px solid #f5c2c0;border-radius:.2em;padding:0 .15em;margin:0 .1em;vertical-align:.1em}
.sahafa-warning{font-size:.86rem;color:#713f12;background:#fff4db;border-radius:.3rem;padding:.35rem .7rem;
  margin:.3rem 0}
.sahafa-label{font-size:.78rem;color:#6c757d;text-transform:uppercase;letter-spacing:.05em;margin:.5rem 0 .1rem}
.sahafa-copies{font-size:.86rem;color:#495057;margin:-.3rem 0 .5rem}
.sahafa-timeline{font-size:.92rem;color:#343a40;margin:0 0 1rem} .sahafa-timeline ol{margin:.2rem 0 0 1.2rem}
[data-testid="stTextInput"] input,[data-testid="stTextArea"] textarea{unicode-bidi:plaintext;text-align:start}
[data-testid="stMainBlockContainer"]{padding-top:2.5rem}
"""


def style_tag() -> str:
    """The page's CSS, once per page."""
    return "<style>" + " ".join(line.strip() for line in CSS.strip().splitlines()) + "</style>"


def direction(lang: str) -> str:
    """``sahafa-rtl`` for Arabic text, ``sahafa-ltr`` otherwise."""
    return "sahafa-rtl" if lang == "ar" else "sahafa-ltr"


def lang_badge(lang: str) -> str:
    name = LANG_NAMES.get(lang, lang.upper())
    badge = f"sahafa-badge sahafa-badge-{html.escape(lang)}"
    return f'<span class="{badge}" title="{html.escape(name)}">{escape(name)}</span>'


def web_link(url: str | None) -> bool:
    """Whether ``url`` may be a link on the page: http(s) only, never a javascript: or data: address."""
    return url is not None and url.strip().lower().startswith(("http://", "https://"))


def markdown_text(text: str) -> str:
    """``text`` for a Markdown element (``st.info``, ``st.warning``), shown as written: no link, emphasis or HTML
    that a file's header or a row could bring."""
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", text)


def meta(source: str | None, date: str | None, lang: str, url: str | None, *extra: str) -> str:
    """Language badge, outlet, day, any ``extra`` (already HTML) and a link to the source."""
    parts = [
        lang_badge(lang),
        f"<span>{escape(source or 'Unknown outlet')}</span>",
        f"<span>{escape(day(date) or 'undated')}</span>",
        *extra,
    ]
    if web_link(url):
        parts.append(f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">source ↗</a>')
    elif url:
        parts.append(f"<span>{escape(url)}</span>")
    return f'<div class="sahafa-meta">{"".join(parts)}</div>'


def short_title(title: str | None, limit: int = TITLE_CHARS) -> str:
    text = display_title(title) or "Untitled"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def result_card(hit: Hit, rank: int) -> str:
    """Title, metadata, score and the best passage with its highlights."""
    score = f'<span class="sahafa-score" title="relevance score">score {hit.score:.3f}</span>'
    rank_html = f'<span class="sahafa-rank" title="rank">{rank}</span>'
    title = _title_div("sahafa-card-title", hit.lang, rank_html + escape(short_title(hit.title)))
    snippet = f'<div class="sahafa-snippet {direction(hit.lang)}">{snippet_html(hit)}</div>'
    quotes = (f'<div class="sahafa-copies" dir="auto">Quotes: {", ".join(escape(n) for n in hit.speakers)}</div>'
              if hit.speakers else "")  # fmt: skip
    return _oneline(title + meta(hit.source, hit.date, hit.lang, hit.url, score) + copies_html(hit) + quotes + snippet)


def copies_html(hit: Hit) -> str:
    """ "Also in 2 outlets (A, B) · first published 2015-07-31 by A (id …)" for a syndicated story, else nothing."""
    line = " · ".join(story_parts(hit, date=day))
    return f'<div class="sahafa-copies" dir="auto">{escape(line[:1].upper() + line[1:])}</div>' if line else ""


def snippet_html(hit: Hit) -> str:
    """The best passage's sentences around its first highlight (the best sentence if marked), escaped and marked."""
    if not hit.passages:
        return render_html(hit)
    passage = hit.best
    a, b = snippet_window(hit.text, passage.start, passage.end, passage.spans)
    body = ("… " if a > 0 else "") + mark(hit.text, a, b, passage.spans) + (" …" if b < len(hit.text) else "")
    return _text_div(body, hit.lang, wrap=False)


def snippet_window(text: str, start: int, end: int, spans: Sequence[Span]) -> tuple[int, int]:
    """Whole sentences of ``text[start:end]`` around the focus, about SNIPPET_CHARS long."""
    focus = next((s for s in spans if s.kind == "sentence"), spans[0] if spans else None)
    units = sentence_units(text, start, end) or [(start, end)]
    at = focus.start if focus else start
    i = next((n for n, (_, u_end) in enumerate(units) if at < u_end), 0)
    lo = hi = i
    forward = True
    while units[hi][1] - units[lo][0] < SNIPPET_CHARS and (lo > 0 or hi < len(units) - 1):
        if (forward and hi < len(units) - 1) or lo == 0:
            hi += 1
        else:
            lo -= 1
        forward = not forward
    a, b = units[lo][0], units[hi][1]
    if b - a > 2 * SNIPPET_CHARS:  # one very long "sentence": cut around the focus, at word edges
        a = _word_edge(text, max(a, at - SNIPPET_CHARS // 3), backwards=True)
        b = _word_edge(text, min(b, max(a + SNIPPET_CHARS, focus.end if focus else 0)), backwards=False)
    return a, b


def article_html(hit: Hit, query: str = "") -> str:
    """The whole article: query terms marked, its best passage (if any) tinted and anchored."""
    text = hit.text
    spans: list[Span] = [s for p in hit.passages for s in p.spans if s.kind == "sentence"]
    if query.strip():
        spans += term_spans(text, 0, len(text), parse_query(query))
    if hit.passages:
        a, b = hit.best.start, hit.best.end
        body = (
            mark(text, 0, a, spans)
            + f'<span id="{PASSAGE_ANCHOR}" class="sahafa-passage">{mark(text, a, b, spans)}</span>'
            + mark(text, b, len(text), spans)
        )
    else:
        body = mark(text, 0, len(text), spans)
    heading = escape(short_title(hit.title, 400))
    title = _title_div("sahafa-article-title", hit.lang, heading, ident="sahafa-article")
    ident = f"<span>id <code>{escape(hit.article_id)}</code></span>"
    byline = [f'<span class="sahafa-byline" dir="auto">{escape(hit.author)}</span>'] if hit.author else []
    where = [f'<span class="sahafa-dateline" dir="auto">{escape(hit.dateline)}</span>'] if hit.dateline else []
    return _oneline(
        f'<div class="sahafa-article">{title}{meta(hit.source, hit.date, hit.lang, hit.url, *byline, *where, ident)}'
        f"{LEGEND}{_text_div(body, hit.lang)}</div>"
    )


def verdict_html(check: QuoteCheck) -> str:
    """The verdict in a coloured box, with what it means and how many sources carry the quote."""
    name = check.verdict
    sources = len({m.article_id for m in check.matches})
    count = {0: "", 1: " Found in 1 article."}.get(
        sources, f" Found in {sources} articles: strongest match first, then earliest."
    )
    return _oneline(
        f'<div class="sahafa-verdict sahafa-v-{name.replace(" ", "-")}">'
        f'<span class="sahafa-verdict-name">{html.escape(name)}</span>'
        f"<span>{html.escape(VERDICT_TEXT.get(name, ''))}{count}</span></div>"
    )


def timeline_html(found: Timeline) -> str:
    """First and last appearance of the quote's words, and each outlet that ran them, in order of first date."""
    if not found.appearances:
        return ""
    ends = [
        f"{name} {escape(day(m.date))}, {escape(m.source or 'unnamed outlet')}"
        for name, m in (("First", found.first), ("last", found.last))
        if m is not None
    ]
    runs = "".join(
        f"<li>{escape(r.source or 'Unnamed outlet')}: {escape(day(r.first) or 'undated')}"
        f"{f' to {escape(day(r.last))}' if r.last and day(r.last) != day(r.first) else ''}"
        f" ({r.articles} article{'s' * (r.articles != 1)})</li>"
        for r in found.outlets
    )
    where = f"In {found.appearances} article{'s' * (found.appearances != 1)}, {len(found.outlets)} outlet"
    where += "s" * (len(found.outlets) != 1)
    head = " · ".join([*ends, where]) if ends else where
    return _oneline(f'<div class="sahafa-timeline"><div class="sahafa-label">Timeline</div>{head}<ol>{runs}</ol></div>')


def quote_match_html(match: QuoteMatch, article_text: str | None = None) -> str:
    """One source of a quote: metadata, the words in context, and the word-by-word diff if any."""
    badge = f'<span class="sahafa-badge sahafa-v-{match.verdict.replace(" ", "-")}">{html.escape(match.verdict)}</span>'
    similarity = f'<span class="sahafa-score">similarity {match.similarity:.2f}</span>'
    title = _title_div("sahafa-card-title", match.lang, escape(short_title(match.title)))
    parts = [title, meta(match.source, match.date, match.lang, match.url, badge, similarity)]
    if match.speaker:
        said = escape(match.speaker) + (f", {escape(match.speaker_title)}" if match.speaker_title else "")
        parts.append(f'<div class="sahafa-copies" dir="auto">Said by <b>{said}</b></div>')
    parts.append(_text_div(quote_context(match, article_text), match.lang, snippet=True))
    if has_direction_controls(match.text):
        parts.append(CONTROLS_NOTE)
    if match.diff and any(step.op != "equal" for step in match.diff):
        parts.append('<div class="sahafa-label">Differences, word by word</div>')
        parts.append(DIFF_LEGEND)
        parts.append(_text_div(diff_html(match.diff), match.lang, snippet=True))
    return _oneline("".join(parts))


def quote_context(match: QuoteMatch, article_text: str | None) -> str:
    """The matched words marked, with some of the article around them (escaped)."""
    text = article_text if article_text and article_text[match.start : match.end] == match.text else None
    if text is None:
        return mark(match.text, 0, len(match.text), [Span(0, len(match.text), "sentence")])
    a = _word_edge(text, max(0, match.start - QUOTE_CONTEXT), backwards=True)
    b = _word_edge(text, min(len(text), match.end + QUOTE_CONTEXT), backwards=False)
    marked = mark(text, a, b, [Span(match.start, match.end, "sentence")])
    return ("… " if a > 0 else "") + marked + (" …" if b < len(text) else "")


def diff_html(diff: Sequence[WordDiff]) -> str:
    """Equal words plain; the quote's words struck through; the source's words marked."""
    out = []
    for step in diff:
        quote, source = escape(step.quote), escape(step.source)
        if step.op == "equal":
            out.append(source or quote)
        elif step.op == "replace":
            out.append(f'<del class="sahafa-del">{quote}</del> <ins class="sahafa-ins">{source}</ins>')
        elif step.op == "missing":
            out.append(f'<del class="sahafa-missing" title="in the quote, not in the source">{quote}</del>')
        elif step.op == "extra":
            out.append(f'<ins class="sahafa-extra" title="in the source, not in the quote">{source}</ins>')
    return " ".join(out)


def _title_div(cls: str, lang: str, body: str, *, ident: str = "") -> str:
    """A title line (``body`` already escaped), aligned for its language, mixed directions kept in order."""
    id_attr = f' id="{ident}"' if ident else ""
    return f'<div{id_attr} class="{cls} {direction(lang)}" dir="auto">{body}</div>'


def _text_div(body: str, lang: str, *, snippet: bool = False, wrap: bool = True) -> str:
    """Text in the same element as highlight.render_html makes; ``wrap`` adds the direction (and snippet) box."""
    inner = (
        f'<div class="sahafa-text" dir="auto" lang="{html.escape(lang)}" '
        f'style="unicode-bidi: plaintext; white-space: pre-wrap">{body}</div>'
    )
    if not wrap:
        return inner
    return f'<div class="{"sahafa-snippet " if snippet else ""}{direction(lang)}">{inner}</div>'


def _word_edge(text: str, at: int, *, backwards: bool) -> int:
    """``at`` moved to the nearest whitespace so that context never cuts a word."""
    step = -1 if backwards else 1
    for _ in range(40):
        if at <= 0 or at >= len(text) or text[at].isspace():
            break
        at += step
    return max(0, min(len(text), at))


def _oneline(fragment: str) -> str:
    """Newlines of article text as character references: the HTML stays one Markdown block."""
    return fragment.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "&#10;")
