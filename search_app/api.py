"""The JSON HTTP API (``sahafa api``): search, quote checks and articles over HTTP, for other tools.

A thin FastAPI shell over ``Searcher`` and ``check_quote``, answering in the same JSON shapes as the CLI's
``--json`` (``search_app.output``). One searcher serves every request, one request at a time (a lock: its SQLite
connection and caches are not shared between threads), and it follows what ``sahafa index`` commits, as the page
does. Served on 127.0.0.1 unless asked otherwise; no cross-origin access unless origins are named.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indexer.errors import SahafaError
from search_app.coverage import coverage, coverage_json, facet_names
from search_app.output import hit_json, languages_json, quote_json
from search_app.query import MAX_QUERY_CHARS
from search_app.quote_batch import check_rows, checker, read_sheet, to_csv
from search_app.quotes import MAX_QUOTE_CHARS, check_quote
from search_app.search import Searcher

MAX_K = 100
MAX_BATCH = 100  # quotes in one POST /quotes or /quotes/csv
SHEET_BODY = {
    "required": True,
    "description": "A CSV with a 'quote' column ('id' and other columns are kept), or text/plain: one quote a line.",
    "content": {"text/csv": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}},
}
MAX_SOURCES = 50
MAX_BODY_BYTES = 1_000_000
MAX_ID_CHARS = 1_000


class QuoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_QUOTE_CHARS, description="The quote to check.")


class QuotesRequest(BaseModel):
    quotes: list[Annotated[str, Field(min_length=1, max_length=MAX_QUOTE_CHARS)]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Quotes to check, one verdict each, in order."
    )


def create_app(open_searcher: Callable[[], Searcher], *, cors: tuple[str, ...] = ()) -> FastAPI:
    """The API over the searcher ``open_searcher`` returns (called once, at the first request)."""
    app = FastAPI(
        title="Sahafa",
        version="1",
        description="Bilingual Arabic/English search over press coverage, and quote checks against the original "
        "text. JSON shapes are those of `sahafa search --json` and `sahafa quote --json`.",
    )
    state: dict[str, Searcher] = {}
    lock = threading.Lock()

    def searcher() -> Searcher:
        if "searcher" not in state:
            state["searcher"] = open_searcher()
        return state["searcher"]

    if cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors), allow_methods=["GET", "POST"])

    @app.middleware("http")
    async def bounded_body(request: Request, call_next):  # noqa: ANN001, ANN202 - as starlette calls it
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY_BYTES):
            return _error(413, f"request body over {MAX_BODY_BYTES:,} bytes")
        return await call_next(request)

    @app.exception_handler(SahafaError)
    async def sahafa_error(request: Request, exc: SahafaError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return _error(422, "; ".join(problems) or "invalid request")

    @app.get("/search", summary="Search in Arabic or English, in both languages")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query.")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="Articles to return.")] = 10,
        mode: Literal["hybrid", "semantic", "lexical"] = "hybrid",
        lang: Literal["ar", "en"] | None = None,
        source: Annotated[list[str] | None, Query(max_length=MAX_SOURCES, description="Outlets (repeatable).")] = None,
        date_from: Annotated[str | None, Query(alias="from", max_length=40, description="YYYY-MM-DD.")] = None,
        date_to: Annotated[str | None, Query(alias="to", max_length=40, description="YYYY-MM-DD.")] = None,
        sort: Literal["relevance", "date"] = "relevance",
        facets: Annotated[str | None, Query(max_length=40, description="Coverage counts over every matching "
                          "article: any of date,source,lang,speaker, comma-separated.")] = None,  # fmt: skip
        period: Literal["week", "month", "year"] = "month",
        all_copies: Annotated[bool, Query(description="Every copy of a syndicated story as its own result.")] = False,
        speaker: Annotated[str | None, Query(max_length=200, description="Only passages quoting this person or "
                           "body (a surname matches the full name).")] = None,  # fmt: skip
    ) -> dict[str, Any]:
        wanted = facet_names(facets)
        scope = {"mode": mode, "lang": lang, "sources": source or [], "date_from": date_from, "date_to": date_to,
                 "speaker": speaker}  # fmt: skip
        with lock:
            results = searcher().results(q, k=k, sort=sort, all_copies=all_copies, **scope)
            found = coverage(searcher(), q, period=period, **scope) if wanted else None
        line = {"query": q, "results": [hit_json(h) for h in results.hits], "languages": languages_json(results)}
        if found is not None:
            line["facets"] = coverage_json(found, wanted)
        return line

    @app.post("/quote", summary="Check one quote against the original text")
    def quote(body: QuoteRequest) -> dict[str, Any]:
        with lock:
            return quote_json(check_quote(searcher(), body.text))

    @app.post("/quotes", summary="Check a batch of quotes, one verdict each")
    def quotes(body: QuotesRequest) -> dict[str, Any]:
        with lock:
            return {"results": [quote_json(check_quote(searcher(), text)) for text in body.quotes]}

    @app.post(
        "/quotes/csv",
        summary="Check a sheet of quotes: CSV in, CSV of verdicts out (as `sahafa quote --file --csv`)",
        openapi_extra={"requestBody": SHEET_BODY},
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "One row per input row, in order."}},
    )
    async def quote_sheet(request: Request) -> Response:
        plain = request.headers.get("content-type", "").split(";")[0].strip() == "text/plain"
        sheet = read_sheet(await request.body(), "body", lines=plain)
        if len(sheet.rows) > MAX_BATCH:
            return _error(413, f"body: {len(sheet.rows):,} rows is over the limit of {MAX_BATCH} in one request")

        def check() -> list:
            with lock:
                return list(check_rows(sheet.rows, checker(searcher())))

        results = await run_in_threadpool(check)  # off the event loop, as FastAPI runs the plain endpoints
        return Response(to_csv(results, sheet.extra_columns), media_type="text/csv; charset=utf-8")

    @app.get("/articles/{article_id}", summary="One article, with its original text")
    def article(article_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)]) -> dict[str, Any]:
        with lock:
            found = searcher().article(article_id)
        if found is None:
            return _error(404, f"no article {article_id!r} in the index")
        return asdict(found)

    @app.get("/health", summary="Whether the index answers")
    def health() -> dict[str, Any]:
        with lock:
            summary = searcher().summary()
        return {"status": "ok", "articles": summary["articles"], "generation": summary["generation"]}

    @app.get("/info", summary="What the index holds")
    def info() -> dict[str, Any]:
        with lock:
            return searcher().summary()

    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})
