"""Batch quote checks: a sheet of quotes in, one verdict row per quote out, as CSV or JSON lines.

A sheet is a CSV file whose header names a ``quote`` column (``text``, ``quotation`` or ``اقتباس`` also do; an
``id`` column is kept, and so is every other column, so that a newsroom's own notes come back beside the
verdicts), or a list of quotes, one per line (pasted text, a ``.txt`` file, a CSV without such a header).
Every input row comes back as one output row, in order: a row that cannot be checked (an empty quote, a quote
over ``MAX_QUOTE_CHARS``, a row with the wrong number of fields, an unbalanced quote mark) says why, with its
line number, and the rows after it are checked as usual. The page, ``sahafa quote --file`` and
``POST /quotes/csv`` all read and write sheets here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from indexer.errors import BadRecord, SahafaError
from indexer.ingest import csv_rows, decode_text
from indexer.records import heading
from search_app.export import citation, day, display_title, inert
from search_app.output import quote_json
from search_app.quotes import MAX_QUOTE_CHARS, QuoteCheck, check_quote
from search_app.search import Searcher

QUOTE_COLUMNS = ("quote", "text", "quotation", "اقتباس", "الاقتباس")
ID_COLUMNS = ("id", "qid")
MAX_SHEET_BYTES = 10_000_000
FIELDS = (
    "line", "id", "quote", "verdict", "similarity", "outlet", "date", "title", "url", "article_id", "start", "end",
    "source_text", "citation", "matches", "error", "speaker",
)  # fmt: skip


@dataclass(frozen=True)
class QuoteRow:
    """One input row: its line, the quote, its id and other columns as given, and why it cannot be checked."""

    line: int
    where: str  # "name:line", for messages
    quote: str
    id: str = ""
    extra: tuple[str, ...] = ()  # the values of the sheet's other columns, in their order
    error: str = ""  # "" when the row can be checked


@dataclass(frozen=True)
class QuoteSheet:
    """The rows of a sheet, the names of its other columns, and notes on how it was read (encoding, no header)."""

    rows: tuple[QuoteRow, ...]
    extra_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def problems(self) -> list[str]:
        """``name:line: reason`` for every row that cannot be checked."""
        return [f"{row.where}: {row.error}" for row in self.rows if row.error]

    @property
    def checkable(self) -> int:
        return sum(1 for row in self.rows if not row.error)


@dataclass(frozen=True)
class BatchResult:
    """A row and its check; ``check`` is None when the row could not be checked and ``error`` says why."""

    row: QuoteRow
    check: QuoteCheck | None
    error: str = ""


@dataclass
class _Reader:
    name: str
    notes: list[str] = field(default_factory=list)


def read_sheet(data: bytes, name: str, *, lines: bool = False) -> QuoteSheet:
    """The quotes of ``data`` (the bytes of a file called ``name``): a CSV with a quote column, else, or when
    ``lines`` is true, one quote per non-blank line. BadRecord when nothing of it can be read."""
    if len(data) > MAX_SHEET_BYTES:
        raise BadRecord(f"{name}:1", f"{len(data):,} bytes is over the {MAX_SHEET_BYTES:,}-byte limit of one batch")
    reader = _Reader(name)
    text = decode_text(data, name, reader.notes.append).replace("\x00", "")
    if not text.strip():
        raise BadRecord(f"{name}:1", "no quotes: the file is empty")
    if lines or name.lower().endswith(".txt"):
        return _line_sheet(text, reader)
    return _csv_sheet(text, reader)


def _line_sheet(text: str, reader: _Reader) -> QuoteSheet:
    rows = [_row(reader.name, number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    return QuoteSheet(tuple(rows), (), tuple(reader.notes))


def _csv_sheet(text: str, reader: _Reader) -> QuoteSheet:
    bad: list[BadRecord] = []
    rows = csv_rows(io.StringIO(text, newline=""), reader.name, bad.append)
    first = next(rows, None)
    header = [cell.strip().lower() for cell in first[1]] if first else []
    column = next((header.index(c) for c in QUOTE_COLUMNS if c in header), None)
    if first is None or column is None:
        found = ", ".join(repr(c) for c in header[:6])
        reader.notes.append(
            f"{reader.name}: no 'quote' column in the first line ({found or 'empty'}); read as one quote per line"
        )
        return _line_sheet(text, reader)
    id_column = next((header.index(c) for c in ID_COLUMNS if c in header), None)
    others = [i for i in range(len(header)) if i not in (column, id_column)]
    out: list[QuoteRow] = []
    for number, cells in rows:
        out += [_bad(b) for b in bad]
        bad.clear()
        where = f"{reader.name}:{number}"
        if len(cells) != len(header):
            reason = f"{len(cells)} fields where the header has {len(header)}"
            if len(cells) > len(header):
                reason += " (a quote that holds a comma must be in double quotes)"
            out.append(QuoteRow(number, where, ",".join(cells).strip(), error=f"{reason}; row not checked"))
            continue
        row = _row(reader.name, number, cells[column].strip())
        ident = cells[id_column].strip() if id_column is not None else ""
        out.append(QuoteRow(row.line, row.where, row.quote, ident, tuple(cells[i] for i in others), row.error))
    out += [_bad(b) for b in bad]
    return QuoteSheet(tuple(out), tuple(first[1][i].strip() for i in others), tuple(reader.notes))


def _row(name: str, number: int, quote: str) -> QuoteRow:
    where = f"{name}:{number}"
    if not quote:
        return QuoteRow(number, where, quote, error="empty quote; row not checked")
    if len(quote) > MAX_QUOTE_CHARS:
        reason = f"a quote of {len(quote):,} characters is over the {MAX_QUOTE_CHARS:,}-character limit"
        return QuoteRow(number, where, quote[:200], error=f"{reason}; row not checked")
    return QuoteRow(number, where, quote)


def _bad(bad: BadRecord) -> QuoteRow:
    line = int(bad.where.rsplit(":", 1)[1])
    return QuoteRow(line, bad.where, "", error=bad.reason)


def check_rows(rows: Iterable[QuoteRow], check: Callable[[str], QuoteCheck]) -> Iterator[BatchResult]:
    """Each row's ``check`` (``check_quote`` over one searcher, or the page's cached one), in order; a row that
    cannot be checked yields its reason and the batch goes on."""
    for row in rows:
        if row.error:
            yield BatchResult(row, None, row.error)
            continue
        try:
            yield BatchResult(row, check(row.quote))
        except SahafaError as exc:
            yield BatchResult(row, None, str(exc))


def checker(searcher: Searcher) -> Callable[[str], QuoteCheck]:
    """``check_quote`` against ``searcher``'s index, for ``check_rows``."""
    return lambda quote: check_quote(searcher, quote)


def table_row(result: BatchResult) -> dict[str, object]:
    """One flat row of the verdict table: the quote, its verdict, and its strongest, earliest source."""
    row, check = result.row, result.check
    best = check.matches[0] if check and check.matches else None
    return {
        "line": row.line,
        "id": row.id,
        "quote": row.quote,
        "verdict": check.verdict if check else "",
        "similarity": round(best.similarity, 4) if best else "",
        "outlet": (best.source or "") if best else "",
        "date": day(best.date) if best else "",
        "title": display_title(best.title) if best else "",
        "url": (best.url or "") if best else "",
        "article_id": best.article_id if best else "",
        "start": best.start if best else "",
        "end": best.end if best else "",
        "source_text": best.text if best else "",
        "citation": citation(best.source, best.date, best.title, best.url) if best else "",
        "matches": len(check.matches) if check else "",
        "error": result.error,
        "speaker": (best.speaker or "") if best else "",
    }


def output_columns(extra_columns: Sequence[str]) -> list[str]:
    """The verdict columns, then the input's other columns (``input_`` before a name that is taken)."""
    return [*FIELDS, *(f"input_{name}" if name in FIELDS else name for name in extra_columns)]


def to_csv(results: Iterable[BatchResult], extra_columns: Sequence[str] = ()) -> bytes:
    """UTF-8 CSV with a byte-order mark and CRLF rows, one per input row; formula-like cells made inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(output_columns(extra_columns))
    for result in results:
        values = [*table_row(result).values(), *result.row.extra]
        writer.writerow([inert(v) for v in values])
    return buffer.getvalue().encode("utf-8-sig")


def json_row(result: BatchResult) -> dict[str, object]:
    """One line of ``sahafa quote --file --json``: the line, the id and ``quote --json``'s object, or the error."""
    row = result.row
    head: dict[str, object] = {"line": row.line, "id": row.id or None}
    if result.check is None:
        return {**head, "quote": row.quote, "error": f"{row.where}: {result.error}"}
    return {**head, **quote_json(result.check)}


def text_row(result: BatchResult) -> str:
    """``line 3 (q7): verbatim · Title (Outlet, 2019-05-02) [120:180]`` or ``line 4: not checked: reason``."""
    row, check = result.row, result.check
    label = f"line {row.line}" + (f" ({row.id})" if row.id else "")
    if check is None:
        return f"{label}: not checked: {result.error}"
    if not check.matches:
        return f"{label}: {check.verdict}"
    best = check.matches[0]
    where = ", ".join(x for x in (best.source, day(best.date)) if x) or "no outlet or date"
    more = f", {len(check.matches) - 1} more source(s)" if len(check.matches) > 1 else ""
    title = heading(best.title, best.article_id)
    return f"{label}: {check.verdict} · {title} ({where}) [{best.start}:{best.end}]{more}"
