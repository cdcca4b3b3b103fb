"""The page in a real browser: a real ``streamlit run`` server driven by headless Debian Chromium.

Screenshots land in tests/artifacts/ (git-ignored); look at them after a change to the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from search_app.views import RESULTS as PAGE_RESULTS
from tests.processes import stop

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "search_app" / "app.py"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SLOW = 180_000  # ms: the first search loads the encoder, and this machine may be busy
VERBATIM = "وقال القلاف خلال مشاركته في ندوة في الرياض"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(built_index):
    """``streamlit run`` on a free port of 127.0.0.1 against the test index; killed afterwards."""
    yield from serve(built_index, "streamlit.log")


XSS = '<img src=x onerror="window.__pwned=(window.__pwned||0)+1">'
HOSTILE = {
    "id": "hostile-1",
    "title": f"Budget vote {XSS}<script>window.__pwned=1</script> \u202elanif\u202c",
    "source": f"Outlet {XSS}",
    "url": "  JaVaScRiPt:window.__pwned=1",
    "date": "2024-05-01",
    "lang": "en",
    "text": (
        f"The parliament approved the budget on Tuesday {XSS} after a long night. <script>window.__pwned=1</script> "
        "Lawmakers said the deal is \u202efinal\u202c and the vote was close. "
        "<a href='javascript:window.__pwned=1'>read more</a> The finance minister thanked the opposition."
    ),
}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, encoder):
    """A server over an index whose one article carries markup, scripts, a javascript: link and bidi controls in
    every field."""
    import json

    from indexer.build import index_sources

    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.jsonl").write_text(json.dumps(HOSTILE) + "\n", encoding="utf-8")
    report = index_sources([folder / "hostile.jsonl"], folder / "index", progress=False, loaded_encoder=encoder)
    assert report.indexed == 1, report.problems
    yield from serve(folder / "index", "streamlit-hostile.log")


def serve(index: Path, log_name: str):
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        "--", "--index", str(index),
    ]  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(ARTIFACTS / log_name, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with direct.open(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start on {url} (exit code {process.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        yield context.new_page()
    finally:
        context.close()


def settle(page) -> None:
    """Wait for the script run that the last action started to finish (if it was quick, it already has)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    state = "document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState"
    try:
        page.wait_for_function(f"() => {state} === 'running'", timeout=3_000)
    except PlaywrightTimeout:
        pass
    page.wait_for_function(f"() => {state} === 'notRunning'", timeout=SLOW)
    page.wait_for_timeout(300)


def search(page, query: str) -> None:
    box = page.get_by_placeholder("Search in Arabic or English", exact=False)
    box.fill(query)
    box.press("Enter")
    page.wait_for_function("q => new URL(location.href).searchParams.get('q') === q", arg=query, timeout=SLOW)
    settle(page)


def screenshot(page, name: str, height: int | None = None) -> Path:
    """The page at ``height`` pixels, or all of it however long: Streamlit scrolls an inner element, so the
    viewport grows to fit it."""
    if height is None:
        height = page.evaluate(
            """() => Math.max(document.documentElement.scrollHeight,
                 ...Array.from(document.querySelectorAll('*'))
                   .filter(e => /(auto|scroll)/.test(getComputedStyle(e).overflowY))
                   .map(e => e.scrollHeight))"""
        )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(400)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def computed(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).getPropertyValue('{prop}')")


def test_search_read_and_open_an_article(server, page):
    page.goto(server)
    page.get_by_placeholder("Search in Arabic or English", exact=False).wait_for(timeout=SLOW)

    search(page, "الاتجار بالأشخاص")
    page.locator("mark.sahafa-term").first.wait_for(timeout=SLOW)
    arabic = page.locator(".sahafa-snippet.sahafa-rtl .sahafa-text").first
    assert computed(arabic, "direction") == "rtl"
    assert computed(arabic, "text-align") == "right"
    assert arabic.locator("mark.sahafa-term").count() > 0
    english = page.locator(".sahafa-snippet.sahafa-ltr .sahafa-text")
    if english.count():
        assert computed(english.first, "direction") == "ltr"
        assert computed(english.first, "text-align") == "left"
    page.screenshot(path=str(ARTIFACTS / "search-arabic.png"))
    screenshot(page, "search-arabic-full.png")

    search(page, "human trafficking in Kuwait")
    first = page.locator(".sahafa-card-title").first
    assert "الكويت" in first.inner_text() or "الاتجار" in first.inner_text()
    assert computed(page.locator(".sahafa-snippet .sahafa-text").first, "direction") == "rtl"
    assert page.locator("mark.sahafa-sentence").count() > 0
    screenshot(page, "search-english.png", height=1260)  # the README's screenshot: docs/screenshot.png
    screenshot(page, "search-english-full.png")

    page.get_by_role("button", name="Open article").first.click()
    passage = page.locator("#sahafa-passage")
    passage.wait_for(timeout=SLOW)
    settle(page)
    assert "article=" in page.url and "q=human" in page.url
    page.wait_for_function(
        "() => { const r = document.getElementById('sahafa-passage').getBoundingClientRect();"
        " return r.top < innerHeight && r.bottom > 0; }",
        timeout=10_000,
    )
    page.screenshot(path=str(ARTIFACTS / "article.png"))
    screenshot(page, "article-full.png")

    page.get_by_role("button", name="Back to results").click()
    page.locator(".sahafa-card-title").first.wait_for(timeout=SLOW)
    assert "article=" not in page.url


def test_permalinked_quote_check(server, page):
    page.goto(f"{server}/?page=quote&quote={quote(VERBATIM)}")
    verdict = page.locator(".sahafa-verdict-name")
    verdict.wait_for(timeout=SLOW)
    settle(page)
    assert verdict.inner_text().strip().lower() == "verbatim"
    assert page.locator("mark.sahafa-sentence").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "quote.png"))


def test_both_languages_in_view_and_one_click_to_either(server, page):
    page.goto(server)
    page.get_by_placeholder("Search in Arabic or English", exact=False).wait_for(timeout=SLOW)
    search(page, "the economy and oil prices")
    counts = page.locator(".st-key-sahafa-languages")
    counts.wait_for(timeout=SLOW)
    assert "Arabic:" in counts.inner_text() and "English:" in counts.inner_text()
    page.get_by_role("button", name="English only", exact=False).click()
    page.wait_for_function("() => new URL(location.href).searchParams.get('lang') === 'English'", timeout=SLOW)
    settle(page)
    assert page.locator(".sahafa-snippet.sahafa-ltr").count() > 0
    assert page.locator(".sahafa-snippet.sahafa-rtl").count() == 0
    page.screenshot(path=str(ARTIFACTS / "search-english-only.png"))
    page.get_by_role("button", name="All languages").click()
    page.wait_for_function("() => !new URL(location.href).searchParams.get('lang')", timeout=SLOW)
    settle(page)
    assert page.locator(".sahafa-snippet.sahafa-rtl").count() > 0


def assert_inert(page) -> None:
    """Nothing ran, no element came from the data, and the markup shows as text."""
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src='x'], script:has-text('__pwned')").count() == 0
    assert page.locator("a[href^='javascript' i], a[href*='__pwned']").count() == 0


def test_every_field_and_every_query_is_inert_in_the_browser(hostile_server, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{hostile_server}/?q={quote('budget parliament ' + XSS)}")
    card = page.locator(".sahafa-card-title").first
    card.wait_for(timeout=SLOW)
    settle(page)
    assert "<img src=x" in card.inner_text() and "<script>" in card.inner_text()
    assert page.locator(".sahafa-control").count() >= 2  # the title's RLO and PDF, shown, not applied
    assert "Outlet <img" in page.locator(".sahafa-meta").first.inner_text()
    assert_inert(page)

    page.get_by_role("button", name="Open article").first.click()
    page.locator("#sahafa-passage").wait_for(timeout=SLOW)
    settle(page)
    article = page.locator(".sahafa-article").inner_text()
    assert "<script>window.__pwned=1</script>" in article and "read more</a>" in article
    assert_inert(page)
    page.screenshot(path=str(ARTIFACTS / "hostile-article.png"))

    page.goto(f"{hostile_server}/?page=quote&quote={quote('the budget on Tuesday ' + XSS)}")
    page.locator(".sahafa-verdict-name").wait_for(timeout=SLOW)
    settle(page)
    assert_inert(page)
    page.goto(f"{hostile_server}/?page=quote&quote={quote('Lawmakers said the deal is final')}")
    page.locator(".sahafa-verdict-name").wait_for(timeout=SLOW)
    settle(page)
    assert page.locator(".sahafa-verdict-name").inner_text().strip().lower() == "normalised"
    assert "what you read is what was matched" in page.locator(".sahafa-warning").first.inner_text()
    assert_inert(page)
    page.screenshot(path=str(ARTIFACTS / "hostile-quote.png"))
    assert dialogs == []


def test_the_page_and_the_api_answer_alike(server, page, built_index, encoder):
    """The same query on the page (a real Streamlit server, headless Chromium) and through the JSON API: the same
    articles in the same order, with the same scores."""
    from fastapi.testclient import TestClient

    from search_app.api import create_app
    from search_app.search import Searcher
    from search_app.views import short_title

    query = "المملكة"
    searcher = Searcher.open(built_index, encoder=encoder)
    with TestClient(create_app(lambda: searcher)) as client:
        answer = client.get("/search", params={"q": query, "k": PAGE_RESULTS}).json()["results"]
    searcher.close()
    page.goto(server)
    page.get_by_placeholder("Search in Arabic or English", exact=False).wait_for(timeout=SLOW)
    search(page, query)
    page.locator(".sahafa-card-title").first.wait_for(timeout=SLOW)
    shown = [
        (title.inner_text().removeprefix(title.locator(".sahafa-rank").inner_text()).strip(), score.inner_text())
        for title, score in zip(
            page.locator(".sahafa-card-title").all(), page.locator(".sahafa-score").all(), strict=True
        )
    ]
    assert len(answer) > 1
    assert shown == [(short_title(hit["title"]), f"score {hit['score']:.3f}") for hit in answer]


def test_a_list_of_quotes_checked_on_the_page_and_downloaded(server, page, tmp_path):
    """Upload a CSV of quotes on the quote page: progress, a table of verdicts, the bad row named by its line,
    and a downloadable CSV with every row in order and the sheet's own column kept."""
    import csv
    import io

    sheet = tmp_path / "quotes.csv"
    absent = "The committee voted to rename the lighthouse after a retired ferry captain."
    sheet.write_text(f'id,quote,desk\nq1,"{VERBATIM}",politics\nq2,,politics\nq3,"{absent}",culture\n', "utf-8")
    page.goto(f"{server}/?page=quote")
    page.get_by_role("tab", name="A list of quotes").click()
    page.locator("input[type=file]").set_input_files(str(sheet))
    settle(page)
    page.get_by_role("button", name="Check all quotes").click()
    summary = page.get_by_text("2 of 3 quotes checked", exact=False)
    summary.wait_for(timeout=SLOW)
    settle(page)
    assert page.get_by_text("line 3: empty quote; row not checked", exact=False).is_visible()
    page.locator("[data-testid=stDataFrame]").wait_for(timeout=SLOW)
    with page.expect_download(timeout=SLOW) as download:
        page.get_by_role("button", name="Download the verdicts as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert [(r["line"], r["id"], r["verdict"], r["desk"]) for r in rows] == [
        ("2", "q1", "verbatim", "politics"), ("3", "q2", "", "politics"), ("4", "q3", "not found", "culture"),
    ]  # fmt: skip
    assert VERBATIM in rows[0]["source_text"] and rows[1]["error"] == "empty quote; row not checked"
    assert summary.is_visible()  # downloading does not rerun the page and lose the table
    screenshot(page, "quote-list.png")


def test_the_coverage_chart_narrows_the_dates(server, page, built_index, encoder):
    """Above the results, every matching article per year; dragging across the bars narrows the date filter to
    the years they span, in the URL too."""
    import datetime as dt

    from search_app.coverage import coverage, period_end, period_start
    from search_app.search import Searcher

    query = "المملكة"
    searcher = Searcher.open(built_index, encoder=encoder)
    try:
        found = coverage(searcher, query, period="year")
        low, high = (dt.date.fromisoformat(d[:10]) for d in searcher.retrieval.date_range())
    finally:
        searcher.close()
    dated = [b for b in found.buckets if b.count]
    assert len(dated) >= 2, "the test needs matches in more than one year"
    page.goto(f"{server}/?q={quote(query)}&per=year")
    bars = """() => Array.from(document.querySelectorAll('.st-key-coverage svg.marks g.mark-rect path'))
        .filter(e => e.getAttribute('fill') !== '#333')
        .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0)
        .map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))"""
    page.wait_for_function(f"() => ({bars})().length > 0", timeout=SLOW)
    settle(page)
    caption = page.get_by_text("Coverage:", exact=False).first.inner_text()
    assert f"Coverage: {found.articles} matching articles" in caption
    boxes = page.evaluate(bars)
    left = min(b["x"] for b in boxes) + 2
    right = max(b["x"] + b["width"] for b in boxes) - 2
    y = max(boxes, key=lambda b: b["height"])["y"] + 3
    screenshot(page, "coverage.png", height=900)
    page.mouse.move(left, y)
    page.mouse.down()
    page.mouse.move(right, y, steps=10)
    page.mouse.up()
    first = max(period_start(dt.date.fromisoformat(dated[0].start), "year"), low)
    last = min(period_end(dt.date.fromisoformat(dated[-1].start), "year"), high)
    page.wait_for_function(
        "([a, b]) => { const p = new URL(location.href).searchParams;"
        " return p.get('from') === a && p.get('to') === b; }",
        arg=[first.isoformat(), last.isoformat()],
        timeout=SLOW,
    )
    settle(page)
    import re

    metas = page.locator(".sahafa-meta").all_inner_texts()
    dates = [m.group() for text in metas for m in [re.search(r"\d{4}-\d{2}-\d{2}", text)] if m]
    assert dates and all(first.isoformat() <= d <= last.isoformat() for d in dates), dates
    screenshot(page, "coverage-narrowed.png", height=900)
