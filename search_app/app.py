"""The Sahafa page: search press coverage in Arabic or English, read an article, check a quote.

A thin Streamlit shell over search.py, quotes.py, views.py and export.py. Serve it with
``sahafa serve --index DIR`` (or ``--backend milvus://HOST:PORT/COLLECTION``), or
``streamlit run search_app/app.py -- --index DIR``; without either it reads ``$SAHAFA_BACKEND``, then
``$SAHAFA_INDEX``, then ``index``. Every setting lives in the URL, so a copied address reproduces the
page: ``?q=…&mode=…&lang=…&outlet=…&from=…&to=…&sort=…`` (bound widgets), ``article=ID`` and ``page=quote``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import threading
from collections import Counter
from functools import partial

import streamlit as st

from indexer.errors import SahafaError
from indexer.records import Hit
from search_app import export, views
from search_app.coverage import FLOOR_TEXT, PERIODS, Coverage, coverage, period_end, period_start
from search_app.quote_batch import check_rows, read_sheet, table_row, to_csv
from search_app.quotes import VERDICTS, QuoteCheck, check_quote
from search_app.search import LanguageCount, Searcher

MODES = {"hybrid": "hybrid", "semantic": "semantic", "exact phrase": "lexical"}
SORTS = {"relevance": "relevance", "newest": "date"}
LANGS = {"Arabic": "ar", "English": "en"}
LANGS_BY_CODE = {code: name for name, code in LANGS.items()}
PAGES = {"search": "Search", "quote": "Quote check"}
RESULTS = views.RESULTS
STACKS = ("language", "outlet")
AXIS_FORMATS = {"week": "%d %b %Y", "month": "%b %Y", "year": "%Y"}
MAX_STACKED = 8  # outlets the chart colours apart; the rest stack as "other"
MAX_PAGE_QUOTES = 1_000
SPEAKER_BUTTONS = 8  # speakers offered as one-click filters above the results
SPEAKER_HELP = (
    "Who the article says said it, found from reporting verbs (قال، أكد، أضاف… / said, told, added…): a name, "
    "or the body or role named. A surname matches the full name."
)
QUOTE_MARKS = '"“”«»„'
PLACEHOLDER = "Search in Arabic or English · ابحث بالعربية أو بالإنجليزية"
LIST_PLACEHOLDER = "One quote per line, Arabic or English · اقتباس واحد في كل سطر، بالعربية أو بالإنجليزية"
QUOTE_PLACEHOLDER = "Paste a quote in Arabic or English · الصق اقتباسًا بالعربية أو بالإنجليزية"
SCROLL = (
    "<script>(function(){var n=0;var t=setInterval(function(){"
    f'var e=document.getElementById("{views.PASSAGE_ANCHOR}")||document.getElementById("sahafa-article");'
    'if(e||++n>60){clearInterval(t);if(e){e.scrollIntoView({block:"center"});}}},100);})();</script>'
)


def index_dir() -> str:
    """What to search: ``--backend milvus://…`` after ``--`` on the command line, else ``--index DIR``, else
    ``$SAHAFA_BACKEND``, else ``$SAHAFA_INDEX``, else ``index``. ``Searcher.open`` takes either."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--index")
    parser.add_argument("--backend")
    known, _ = parser.parse_known_args()
    chosen = known.backend or known.index
    return chosen or os.environ.get("SAHAFA_BACKEND") or os.environ.get("SAHAFA_INDEX") or "index"


@st.cache_resource(show_spinner="Opening the index and loading the encoder…")
def open_searcher(path: str) -> tuple[Searcher, threading.Lock]:
    """One Searcher (and encoder) per index per process; the lock keeps sessions from sharing a search."""
    return Searcher.open(path), threading.Lock()


@st.cache_data(max_entries=256, show_spinner="Searching…")
def run_search(
    path: str, query: str, mode: str, filters: tuple, sort: str, generation: int
) -> tuple[list[Hit], float, dict[str, LanguageCount]]:
    """Cached per store ``generation``: after ``sahafa index`` or ``delete`` commits, the same query runs again."""
    searcher, lock = open_searcher(path)
    lang, sources, date_from, date_to, speaker = filters
    with lock:
        found = searcher.results(
            query, k=RESULTS, mode=mode, lang=lang, sources=sources, date_from=date_from, date_to=date_to, sort=sort,
            speaker=speaker,
        )  # fmt: skip
        return found.hits, searcher.last_seconds, found.languages


@st.cache_data(max_entries=256, show_spinner="Counting coverage…")
def run_coverage(path: str, query: str, mode: str, filters: tuple, period: str, generation: int) -> Coverage:
    """Every matching article counted by period, outlet and language (``search_app.coverage``), per generation."""
    searcher, lock = open_searcher(path)
    lang, sources, date_from, date_to, speaker = filters
    with lock:
        return coverage(searcher, query, mode=mode, lang=lang, sources=sources, date_from=date_from, date_to=date_to,
                        period=period, speaker=speaker)  # fmt: skip


def generation(path: str) -> int:
    """The store's committed generation: part of every cache key, so no page shows what a later commit changed."""
    searcher, lock = open_searcher(path)
    with lock:
        return searcher.retrieval.generation


@st.cache_data(max_entries=128, show_spinner="Checking the quote…")
def run_check(path: str, quote: str, generation: int) -> QuoteCheck:
    searcher, lock = open_searcher(path)
    with lock:
        return check_quote(searcher, quote)


def search_args(query: str, mode: str) -> tuple[str, str]:
    """The query and library mode for a page mode: "exact phrase" quotes the query and searches words only."""
    if mode != "exact phrase":
        return query, MODES.get(mode, "hybrid")
    text = query.strip()
    if not (len(text) > 1 and text[0] in QUOTE_MARKS and text[-1] in QUOTE_MARKS):
        text = '"' + "".join(" " if c in QUOTE_MARKS else c for c in text) + '"'
    return text, "lexical"


def close_article() -> None:
    st.query_params.pop("article", None)


def open_article(article_id: str) -> None:
    st.query_params["article"] = article_id


def page_changed() -> None:
    close_article()
    if st.session_state.page == "search":
        st.query_params.pop("page", None)
    else:
        st.query_params["page"] = st.session_state.page


def choose_page() -> str:
    if "page" not in st.session_state:
        wanted = st.query_params.get("page", "search")
        st.session_state.page = wanted if wanted in PAGES else "search"
    return st.sidebar.radio("Page", list(PAGES), format_func=PAGES.get, key="page", on_change=page_changed)


def day_or(value: str | None, fallback: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "")[:10])
    except ValueError:
        return fallback


def bound(key: str) -> dict:
    """A widget whose value lives in the URL as ``key``; changing it leaves the article view."""
    return {"key": key, "bind": "query-params", "on_change": close_article}


def sidebar_filters(searcher: Searcher) -> tuple[tuple, str]:
    """Language, outlets, dates, speaker and sort, bound to the URL; returns (lang, sources, from, to, speaker)
    and the sort."""
    store = searcher.retrieval
    low, high = store.date_range()
    bounds = {"min_value": day_or(low, dt.date(1900, 1, 1)), "max_value": day_or(high, dt.date.today())}
    sidebar = st.sidebar
    sidebar.subheader("Filters")
    lang = sidebar.selectbox("Language", list(LANGS), index=None, placeholder="Any language", **bound("lang"))
    sources = [name for name, _ in store.sources()]
    outlets = sidebar.multiselect("Outlet", sources, placeholder="All outlets", **bound("outlet"))
    left, right = sidebar.columns(2)
    date_from = left.date_input("From", value=None, **bounds, **bound("from"))
    date_to = right.date_input("To", value=None, **bounds, **bound("to"))
    speaker = sidebar.text_input("Speaker", placeholder="Anyone quoted", help=SPEAKER_HELP, **bound("speaker"))
    sort = sidebar.radio("Sort by", list(SORTS), horizontal=True, **bound("sort"))
    filters = (LANGS.get(lang or ""), tuple(outlets), date_from, date_to, speaker.strip() or None)
    return filters, SORTS.get(sort, "relevance")


def search_page(path: str, searcher: Searcher) -> None:
    st.title("Sahafa · صحافة")
    st.caption("Search press coverage in Arabic or English: words, meaning, or an exact phrase.")
    query = st.text_input("Query", placeholder=PLACEHOLDER, label_visibility="collapsed", **bound("q"))
    mode = st.radio("Match", list(MODES), horizontal=True, **bound("mode"))
    filters, sort = sidebar_filters(searcher)
    text, library_mode = search_args(query, mode)
    hits: list[Hit] = []
    seconds = 0.0
    languages: dict[str, LanguageCount] = {}
    if query.strip():
        try:
            hits, seconds, languages = run_search(path, text, library_mode, filters, sort, generation(path))
        except SahafaError as exc:
            st.error(f"The search could not run: {exc}")
            return
    if st.query_params.get("article"):
        article_view(searcher, hits, st.query_params["article"], text if query.strip() else "")
    elif not query.strip():
        st.info("Type a query above, e.g. الاتجار بالأشخاص or human trafficking in Kuwait, and press Enter.")
    elif not hits:
        st.warning("No article matched. Try other words, the hybrid or semantic mode, or wider filters.")
    else:
        coverage_chart(path, text, library_mode, filters, searcher.retrieval.date_range())
        lang, outlets, date_from, date_to, speaker = filters
        settings = {"mode": mode, "lang": lang, "outlets": list(outlets), "from": str(date_from or ""),
                    "to": str(date_to or ""), "speaker": speaker or "", "sort": sort}  # fmt: skip
        results(hits, seconds, query, settings, languages)


def coverage_chart(path: str, query: str, mode: str, filters: tuple, held: tuple) -> None:
    """Matching articles per week, month or year, stacked by language or outlet; clicking a bar or dragging
    across bars narrows the date filter (and so the URL) to that span."""
    row = st.container(horizontal=True, vertical_alignment="center")
    period = row.segmented_control("Per", PERIODS, default="month", **bound("per")) or "month"
    stack = row.segmented_control("Stack by", STACKS, default="language", **bound("stack")) or "language"
    try:
        found = run_coverage(path, query, mode, filters, period, generation(path))
    except SahafaError as exc:
        st.error(f"The coverage could not be counted: {exc}")
        return
    bound_text = "at least " if found.capped else ""
    undated = f", {found.undated} undated" if found.undated else ""
    row.caption(
        f"Coverage: {bound_text}{found.articles} matching articles{undated}",
        help=FLOOR_TEXT.capitalize() + ". Click a bar, or drag across bars, to search those dates alone.",
    )
    speakers_row(found, filters[4])
    rows = chart_rows(found, stack)
    if not rows:
        return
    import altair as alt  # only the page draws charts

    span = alt.selection_interval(name="span", encodings=["x"])
    bar = alt.selection_point(name="bar", fields=["start"])
    title = "language" if stack == "language" else "outlet"
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_bar(stroke="white", strokeWidth=1)
        .encode(
            x=alt.X(
                "start:T", title=None, axis=alt.Axis(format=AXIS_FORMATS[period], tickCount=period, labelOverlap=True)
            ),
            x2="next:T",
            y=alt.Y("sum(articles):Q", title="articles"),
            color=alt.Color("group:N", title=title, legend=alt.Legend(orient="bottom", columns=4)),
            tooltip=[alt.Tooltip("period:N"), alt.Tooltip("group:N", title=title), alt.Tooltip("articles:Q")],
        )
        .add_params(span, bar)
        .properties(height=170)
    )
    st.altair_chart(chart, key="coverage", on_select=partial(choose_span, period, held),
                    selection_mode=["bar", "span"])  # fmt: skip


def set_speaker(name: str) -> None:
    """One click to what one speaker is quoted saying (or back to everyone): the sidebar's bound speaker."""
    st.session_state.speaker = name
    close_article()


def speakers_row(found: Coverage, active: str | None) -> None:
    """Who the matching articles quote, most articles first: a button each that filters on them."""
    if not found.speakers and not active:
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption("Who is quoted:", help=SPEAKER_HELP)
    if active:
        row.button(f"Anyone (not only {active})", key="speaker-any", on_click=set_speaker, args=("",), type="tertiary")
    for i, (name, count) in enumerate(found.speakers[:SPEAKER_BUTTONS]):
        row.button(f"{name} ({count})", key=f"speaker-{i}", on_click=set_speaker, args=(name,), type="tertiary")


def chart_rows(found: Coverage, stack: str) -> list[dict]:
    """One row per period and language (or outlet: the busiest ``MAX_STACKED``, the rest as "other")."""
    top = [name for name, _ in found.sources[:MAX_STACKED]]
    rows = []
    for bucket in found.buckets:
        parts: Counter[str] = Counter()
        if stack == "language":
            parts.update({LANGS_BY_CODE.get(code, code): n for code, n in bucket.langs})
        else:
            for name, n in bucket.sources:
                parts[(name or "(no outlet)") if name in top else "other"] += n
        after = (dt.date.fromisoformat(bucket.end) + dt.timedelta(days=1)).isoformat()
        rows += [{"start": bucket.start, "next": after, "period": bucket.label, "group": group, "articles": n}
                 for group, n in parts.items()]  # fmt: skip
    return rows


def choose_span(period: str, held: tuple) -> None:
    """The chart's selection as the date filter: every period the dragged span touches, or the clicked bar's."""
    selection = (st.session_state.get("coverage") or {}).get("selection", {})
    picked = [_chart_day(v) for v in (selection.get("span") or {}).get("start", [])]
    picked += [_chart_day(p.get("start")) for p in selection.get("bar") or [] if isinstance(p, dict)]
    days = [d for d in picked if d is not None]
    if not days:
        return
    first = period_start(min(days), period)
    last = period_end(period_start(max(days), period), period)
    low, high = day_or(held[0], first), day_or(held[1], last)
    st.session_state["from"] = min(max(first, low), high)
    st.session_state["to"] = max(min(last, high), low)
    close_article()


def _chart_day(value: object) -> dt.date | None:
    """A date the chart sends back: milliseconds since 1970 (UTC) or an ISO date string."""
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).date()
    return day_or(str(value), None) if value else None  # type: ignore[arg-type]


def set_language(name: str | None) -> None:
    """One click to one language's results (or back to all): the sidebar's bound language filter."""
    st.session_state["lang"] = name
    close_article()


def language_row(languages: dict[str, LanguageCount], active: str | None) -> None:
    """Per language: results shown of candidates found, and a button to that language alone (or back to all)."""
    if len(languages) < 2 and not active:
        return
    row = st.container(horizontal=True, vertical_alignment="center", key="sahafa-languages")
    counts = " · ".join(
        f"{LANGS_BY_CODE.get(c, c)}: {n.hits} shown of {n.candidates} found" for c, n in languages.items()
    )
    row.caption(counts, width="stretch")
    if active:
        row.button("All languages", on_click=set_language, args=(None,), type="tertiary", icon=":material/translate:")
        return
    for code, count in languages.items():
        name = LANGS_BY_CODE.get(code, code)
        row.button(f"{name} only ({count.candidates})", key=f"only-{code}", on_click=set_language, args=(name,),
                   type="tertiary", disabled=not count.candidates)  # fmt: skip


def results(hits: list[Hit], seconds: float, query: str, settings: dict, languages: dict[str, LanguageCount]) -> None:
    """How many, how fast, per language, the downloads, then one card per article with its "Open article" button."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.caption(f"{matched(len(hits))} · {seconds:.2f} s", width="stretch")
    downloads = [
        ("CSV", export.to_csv(hits), "text/csv"),
        ("JSON", export.to_json(hits, query=query, settings=settings), "application/json"),
    ]
    for label, data, mime in downloads:
        row.download_button(label, data, file_name=f"sahafa-results.{label.lower()}", mime=mime, on_click="ignore",
                            icon=":material/download:", help="The results, with a ready citation per row")  # fmt: skip
    language_row(languages, settings["lang"])
    for rank, hit in enumerate(hits, 1):
        with st.container(border=True):
            st.markdown(views.result_card(hit, rank), unsafe_allow_html=True)
            st.button("Open article", key=f"open-{hit.article_id}", on_click=open_article, args=(hit.article_id,),
                      type="tertiary", icon=":material/article:")  # fmt: skip
            if hit.copies:
                copies(hit)


def copies(hit: Hit) -> None:
    """The other copies of a syndicated story, each with its outlet, day and a button that opens it."""
    n, listed = hit.copies_total, len(hit.copies)
    shown = f" ({listed} listed: the earliest, and the first in each outlet)" if listed < n else ""
    with st.expander(f"{n} other cop{'ies' if n > 1 else 'y'} of this story{shown}"):
        for copy in hit.copies:
            row = st.container(horizontal=True, vertical_alignment="center")
            where = f"{copy.source or 'Unknown outlet'} · {export.day(copy.date) or 'undated'}"
            row.markdown(views.markdown_text(f"{where} · {views.short_title(copy.title, 80)}"), width="stretch")
            row.button("Open", key=f"open-{hit.article_id}-{copy.article_id}", on_click=open_article,
                       args=(copy.article_id,), type="tertiary", icon=":material/article:")  # fmt: skip


def matched(n: int) -> str:
    if n >= RESULTS:
        return f"Top {n} matching articles"
    return f"{n} article{'s' if n != 1 else ''} matched"


def article_view(searcher: Searcher, hits: list[Hit], article_id: str, query: str) -> None:
    """The full article, its best passage for the query tinted and scrolled into view."""
    st.button("← Back to results", on_click=close_article)
    hit = next((h for h in hits if h.article_id == article_id), None)
    if hit is None:
        article = searcher.retrieval.article(article_id)
        if article is None:
            st.warning("That article is not in this index (it may have been deleted).")
            return
        hit = Hit(
            article.id, article.title, article.source, article.date, article.lang, article.url, article.text, 0.0,
            author=article.author, dateline=article.dateline,
        )  # fmt: skip
    st.markdown(views.article_html(hit, query), unsafe_allow_html=True)
    st.html(SCROLL, unsafe_allow_javascript=True)


def quote_page(path: str, searcher: Searcher) -> None:
    st.title("Quote check")
    st.caption(
        "Did somebody say this, where, and when? Verbatim, normalised, close, translation, paraphrase or not found."
    )
    one, many = st.tabs(["One quote", "A list of quotes"])
    with one:
        single_quote(path, searcher)
    with many:
        quote_list(path)


def single_quote(path: str, searcher: Searcher) -> None:
    hidden = {"label_visibility": "collapsed", "placeholder": QUOTE_PLACEHOLDER}
    quote = st.text_area("Quote", height=110, **hidden, **bound("quote"))
    st.button("Check quote", type="primary")
    if not quote.strip():
        st.info("Paste a sentence from the news in either language; press Ctrl+Enter or click Check quote.")
        return
    try:
        check = run_check(path, quote, generation(path))
    except SahafaError as exc:
        st.error(f"The quote could not be checked: {exc}")
        return
    st.markdown(views.verdict_html(check), unsafe_allow_html=True)
    if timeline := views.timeline_html(check.timeline):
        st.markdown(timeline, unsafe_allow_html=True)
    for match in check.matches:
        article = searcher.retrieval.article(match.article_id)
        with st.container(border=True):
            st.markdown(views.quote_match_html(match, article.text if article else None), unsafe_allow_html=True)


@st.cache_data(max_entries=4096, show_spinner=False)
def cached_check(path: str, quote: str, generation: int) -> QuoteCheck:
    searcher, lock = open_searcher(path)
    with lock:
        return check_quote(searcher, quote)


def quote_list(path: str) -> None:
    """A sheet of quotes (a CSV file or pasted lines) in, a table of verdicts out, downloadable as CSV."""
    upload = st.file_uploader(
        "A CSV with a `quote` column (`id` and your other columns come back beside the verdicts), "
        "or a text file of one quote per line",
        type=["csv", "txt"],
        key="sheet_file",
    )
    pasted = st.text_area("…or paste quotes", height=120, key="sheet_text", placeholder=LIST_PLACEHOLDER)
    data, name, lines = (upload.getvalue(), upload.name, False) if upload else (pasted.encode(), "pasted", True)
    wanted = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
    if st.button("Check all quotes", type="primary", key="sheet_go"):
        st.session_state.sheet_checked = wanted
    if st.session_state.get("sheet_checked") != wanted or not data.strip():
        st.caption(f"At most {MAX_PAGE_QUOTES:,} quotes at a time here; `sahafa quote --file F --csv` has no limit.")
        return
    try:
        sheet = read_sheet(data, name, lines=lines)
    except SahafaError as exc:
        st.error(f"The quotes could not be read: {views.markdown_text(str(exc))}")
        return
    if len(sheet.rows) > MAX_PAGE_QUOTES:
        st.error(
            f"{len(sheet.rows):,} rows: the page checks at most {MAX_PAGE_QUOTES:,} at a time. "
            "Split the file, or run `sahafa quote --file FILE --csv` for any number."
        )
        return
    for note in sheet.notes:
        st.info(views.markdown_text(note))
    stamp = generation(path)
    progress = st.progress(0.0, text="Checking quotes…")
    results = []
    for done, result in enumerate(check_rows(sheet.rows, lambda q: cached_check(path, q, stamp)), 1):
        results.append(result)
        progress.progress(done / len(sheet.rows), text=f"Checked {done:,} of {len(sheet.rows):,} quotes")
    progress.empty()
    problems = [f"line {r.row.line}: {r.error}" for r in results if r.error]
    verdicts = Counter(r.check.verdict for r in results if r.check)
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items(), key=lambda v: VERDICTS.index(v[0])))
    st.markdown(f"**{len(results) - len(problems)} of {len(results)} quotes checked**: {summary or 'none'}")
    if problems:
        st.warning("Rows not checked:\n\n" + "\n".join(f"- {views.markdown_text(p)}" for p in problems))
    st.download_button(
        "Download the verdicts as CSV",
        to_csv(results, sheet.extra_columns),
        file_name="quote-check.csv",
        mime="text/csv",
        on_click="ignore",
    )
    columns = ["line", "id", "quote", "verdict", "outlet", "date", "source_text", "url", "error"]
    table = [{name: row[name] for name in columns} for row in map(table_row, results)]
    for row in table:  # a link only to a web page, never a javascript: or data: address
        row["url"] = row["url"] if views.web_link(str(row["url"])) else ""
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "quote": st.column_config.TextColumn("quote", width="medium"),
            "source_text": st.column_config.TextColumn("source text", width="medium"),
            "url": st.column_config.LinkColumn("url", width="small"),
        },
    )


def main() -> None:
    st.set_page_config(page_title="Sahafa", page_icon="📰", layout="centered")
    st.markdown(views.style_tag(), unsafe_allow_html=True)
    path = index_dir()
    try:
        searcher, _ = open_searcher(path)
    except SahafaError as exc:
        st.error(str(exc))
        st.stop()
    page = choose_page()
    store = searcher.retrieval
    languages = ", ".join(f"{LANGS_BY_CODE.get(code, code)} {n}" for code, n in store.languages())
    st.sidebar.caption(f"Index: {store.article_count()} articles ({languages or 'none'})")
    if store.article_count() == 0:
        where = f"--index DIR --backend {path}" if "://" in path else f"--index {path}"
        add = f"sahafa index SOURCE... {where}"
        st.info(f"The index at `{path}` is empty: add articles with `{add}`.")
        return
    if page == "quote":
        quote_page(path, searcher)
    else:
        search_page(path, searcher)


main()
