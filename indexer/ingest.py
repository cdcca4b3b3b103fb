"""Read articles from JSONL, CSV, plain-text, HTML, RSS/Atom (feeds.py) and WARC (warc.py) sources into
``Article`` records.

Bad records are reported through ``on_bad`` and skipped; reading goes on. The article text is never
altered beyond decoding, turning ``\\r\\n`` and ``\\r`` into ``\\n`` and stripping the ends.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import charset_normalizer
from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning

from indexer.dateline import dateline
from indexer.errors import BadRecord, BadSource
from indexer.lang import detect_lang
from indexer.records import Article

Warn = Callable[[str], None]
OnBad = Callable[[BadRecord], None]

FIELDS = ("id", "title", "text", "date", "source", "lang", "url", "author", "dateline")
LANGS = {"ar": "ar", "arabic": "ar", "en": "en", "english": "en"}
ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
# Two far-apart defaults: whatever differs between the two parses was not in the input.
DATE_DEFAULTS = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1))
DIGIT = re.compile(r"\d")
NON_SPACE = re.compile(r"\S")
# Bounds that keep one record's memory and time in check: a JSONL line, a CSV field or a .txt/.html file over
# MAX_RECORD_BYTES is reported and not read; article text over MAX_TEXT_CHARS (57 times the longest article of
# news-dev) is cut at a word boundary, with a warning. Peak memory per record stays a small multiple of these.
MAX_RECORD_BYTES = 64 * 2**20
MAX_TEXT_CHARS = 1_000_000
PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "dc.date.issued", "dcterms.issued", "dc.date", "sailthru.date", "parsely-pub-date",
)  # fmt: skip
DAY_FIRST = re.compile(r"\s*(\d{1,2})\D")


def read_sources(paths: Sequence[str | Path], on_bad: OnBad, on_warning: Warn | None = None) -> Iterator[Article]:
    """Articles from every file or folder in ``paths``, in order; folders are walked recursively, sorted.

    Raises ``BadSource`` at once, before anything is read, for a missing path, an unsupported file or a
    FIFO or device named directly. Inside folders, hidden entries and files of other types are skipped
    silently; FIFOs, devices and symbolic links that lead out of the folder with a warning.
    """
    if isinstance(paths, str | Path):  # one path, not a sequence of characters
        paths = [paths]
    warn = on_warning or (lambda message: None)
    files = [found for path in paths for found in _source_files(Path(path), warn)]
    return chain.from_iterable(READERS[kind_of(f)](f, file_id, on_bad, warn) for f, file_id in files)


def kind_of(path: Path) -> str:
    """The reader's key for ``path``: its suffix, lower-cased (``.warc.gz`` as one)."""
    return ".warc.gz" if path.name.lower().endswith(".warc.gz") else path.suffix.lower()


def parse_date(value: str | None) -> str | None:
    """``YYYY-MM-DD``, or ``YYYY-MM-DDTHH:MM:SS[+HH:MM]`` when the input has a time; None if unparseable."""
    if value is None or not DIGIT.search(value):
        return None
    value = value.translate(ARABIC_DIGITS).strip()
    match = DAY_FIRST.match(value)
    dayfirst = bool(match and int(match.group(1)) > 12)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownTimezoneWarning)
            first, second = (date_parser.parse(value, default=d, dayfirst=dayfirst) for d in DATE_DEFAULTS)
        if first.date() != second.date():  # the year, month or day was missing
            return None
        if first.hour != second.hour:  # no time given
            return first.date().isoformat()
        # A UTC offset of a day or more (+99:00) parses, and only fails here: the date is unusable as given.
        return first.isoformat(timespec="seconds")
    except (ValueError, OverflowError):  # dateutil's ParserError is a ValueError
        return None


def content_id(title: str, text: str) -> str:
    """A stable id derived from the content: the first 16 hex digits of sha1 over ``title + "\\n" + text``."""
    return hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:16]


def _source_files(path: Path, warn: Warn) -> Iterator[tuple[Path, str]]:
    """(file, id for a one-article file) pairs; the id is the path under ``path`` without extension.

    Inside a folder, only regular files are read: a FIFO or device would block or never end, and a symbolic
    link that leads out of the folder would index what its owner did not hand over. Both are skipped with a
    warning; links that stay inside are read like the files they name.
    """
    if path.is_dir():
        root = path.resolve()
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                file = Path(folder, name)
                if name.startswith(".") or kind_of(file) not in READERS:
                    continue
                why = _unreadable(file, root)
                if why:
                    warn(f"{file}: {why}; skipped")
                    continue
                yield file, file.relative_to(path).with_suffix("").as_posix()
    elif path.is_file() or not path.exists():
        if not path.exists():
            raise BadSource(f"no such file or directory: {path}")
        if kind_of(path) not in READERS:
            kinds = ", ".join(sorted(READERS))
            raise BadSource(f"unsupported file type '{path.suffix}': {path} (expected one of {kinds})")
        yield path, path.stem
    else:
        raise BadSource(f"not a regular file or folder: {path} ({_kind(path)})")


def _unreadable(file: Path, root: Path) -> str | None:
    """Why a file found in a folder is not read, or None."""
    if file.is_symlink():
        target = file.resolve()
        if not target.is_relative_to(root):
            return f"symbolic link to {target}, outside {root}"
    if not file.exists():
        return "broken symbolic link"
    if not file.is_file():
        return f"not a regular file ({_kind(file)})"
    return None


def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"))
    return next((name for test, name in kinds if test(mode)), "a block device" if stat.S_ISBLK(mode) else "special")


def _read_jsonl(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    seen = False
    with path.open("rb") as lines:
        for number, raw in enumerate(bounded_lines(lines), start=1):
            where = f"{path}:{number}"
            if raw is None:
                seen = True
                on_bad(BadRecord(where, f"line longer than {MAX_RECORD_BYTES:,} bytes; not read"))
                continue
            if not raw.strip():
                continue
            seen = True
            try:
                yield _article(json_object(decode_line(raw, where), where), where, warn)
            except BadRecord as bad:
                on_bad(bad)
    if not seen:
        on_bad(BadRecord(f"{path}:1", "empty file"))


def bounded_lines(handle: Any) -> Iterator[bytes | None]:
    """The file's lines, or None for a line longer than MAX_RECORD_BYTES (read past in chunks, never whole)."""
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_RECORD_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = handle.readline(2**20)
        yield None


def decode_line(raw: bytes, where: str) -> str:
    """One line of a JSONL file as text (a BOM dropped); BadRecord naming the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise BadRecord(where, f"not valid UTF-8 (byte 0x{byte:02x} at column {error.start + 1})") from None


def json_object(line: str, where: str) -> dict[str, Any]:
    """One JSONL line as an object; BadRecord saying what is wrong (also for what crashes ``json.loads``)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadRecord(where, f"invalid JSON: {error.msg} (column {error.colno})") from None
    except RecursionError:
        raise BadRecord(where, "invalid JSON: nested too deeply") from None
    except ValueError as error:  # an integer of more than 4,300 digits
        raise BadRecord(where, f"invalid JSON: {str(error).split(':')[0]}") from None
    if not isinstance(value, dict):
        raise BadRecord(where, f"expected a JSON object, found {JSON_KINDS.get(type(value), 'null')}")
    return value


def _read_csv(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    try:  # a file that is not UTF-8 is rejected whole, before any of its records is yielded
        with path.open("rb") as lines:
            for number, raw in enumerate(bounded_lines(lines), start=1):
                if raw is not None:  # an over-long line is reported by the reader, at the field limit
                    decode_line(raw, f"{path}:{number}")
    except BadRecord as bad:
        on_bad(bad)
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv_rows(handle, str(path), on_bad)
        _, header = next(rows, (None, None))
        if header is None:
            on_bad(BadRecord(f"{path}:1", "empty file"))
            return
        names = [name.strip().lower() for name in header]
        if "text" not in names:
            on_bad(BadRecord(f"{path}:1", "no 'text' column in header"))
            return
        for number, row in rows:
            where = f"{path}:{number}"
            try:
                if len(row) != len(names):
                    raise BadRecord(where, f"expected {len(names)} fields, found {len(row)}")
                yield _article(dict(zip(names, row, strict=True)), where, warn)
            except BadRecord as bad:
                on_bad(bad)


class _Lines:
    """A CSV file's lines for ``csv.reader``, numbered, keeping the lines of the row being read so that reading
    can start again at its second line."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.numbered = 0
        self.replay: deque[tuple[int, str]] = deque()
        self.row: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.replay:
            numbered = self.replay.popleft()
        else:
            line = self.handle.readline(MAX_RECORD_BYTES + 1)
            if not line:
                raise StopIteration
            self.numbered += 1
            numbered = (self.numbered, line)
            if len(line) > MAX_RECORD_BYTES and not line.endswith(("\n", "\r")):
                self.row.append(numbered)
                raise csv.Error("field larger than field limit")  # never held whole in memory
        self.row.append(numbered)
        return numbered[1]


def csv_rows(handle: Any, name: str, on_bad: OnBad) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows of the CSV text ``handle`` (opened with ``newline=""``), each with the number of the line it
    starts on; problems go to ``on_bad`` as ``name:line`` BadRecords.

    Quotes are read strictly. A row whose quoted field runs past its line without closing properly (a stray
    ``"``, which would swallow every later row into one field) is reported and skipped, and reading starts
    again at its second line. A quoting slip inside one line (``"a" b``) is read leniently, as spreadsheets do.
    """
    csv.field_size_limit(MAX_RECORD_BYTES)  # long articles exceed the 128 KiB default
    lines = _Lines(handle)
    reader = csv.reader(lines, strict=True)
    while True:
        lines.row = []
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            first, last = lines.row[0], lines.row[-1]
            if "field limit" in str(error):  # the field's end is unknown: what follows cannot be read as rows
                reason = f"a field longer than {MAX_RECORD_BYTES:,} characters; the rest of the file is not read"
                on_bad(BadRecord(f"{name}:{first[0]}", reason))
                return
            if len(lines.row) > 1:
                on_bad(
                    BadRecord(
                        f"{name}:{first[0]}",
                        f"unbalanced quote: the row runs on to line {last[0]} ({error}); row skipped, "
                        f"reading goes on at line {first[0] + 1}",
                    )
                )
                lines.replay.extendleft(reversed(lines.row[1:]))
                reader = csv.reader(lines, strict=True)
                continue
            row = next(csv.reader([first[1]]), [])
        if row:
            yield lines.row[0][0], row


def _article(fields: Mapping[str, Any], where: str, warn: Warn) -> Article:
    """An Article from a JSONL object or CSV row; raises BadRecord when the text is unusable."""
    text = fields.get("text")
    if text is None:
        raise BadRecord(where, "missing text")
    if not isinstance(text, str):
        raise BadRecord(where, "text is not a string")
    text = capped_text(text, where, warn)
    if not text:
        raise BadRecord(where, "empty text")
    _check_encodable(fields, where)
    title = clean_field(fields.get("title")) or ""
    return Article(
        id=clean_field(fields.get("id")) or content_id(title, text),
        text=text,
        title=title,
        date=field_date(clean_field(fields.get("date")), where, warn),
        source=clean_field(fields.get("source")),
        lang=field_lang(fields.get("lang"), title, text),
        url=clean_field(fields.get("url")),
        origin=where,
        author=clean_field(fields.get("author")) or clean_field(fields.get("byline")),
        dateline=clean_field(fields.get("dateline")) or dateline(text),
    )


def capped_text(raw: str, where: str, warn: Warn) -> str:
    """``_clean_text(raw)``, or its first MAX_TEXT_CHARS characters cut back to the last whitespace, with a
    warning. Only the part kept is copied: a 50 MB field costs one slice, not three copies."""
    if len(raw) <= MAX_TEXT_CHARS or not NON_SPACE.search(raw, MAX_TEXT_CHARS):
        return _clean_text(raw[:MAX_TEXT_CHARS])  # what lies past the limit is only whitespace
    text = _clean_text(raw[: MAX_TEXT_CHARS + 1])
    cut = text.rfind(" ", MAX_TEXT_CHARS // 2, MAX_TEXT_CHARS + 1)
    kept = text[: cut if cut > 0 else MAX_TEXT_CHARS].rstrip()
    warn(f"{where}: text of {len(raw):,} characters cut to its first {len(kept):,} (the limit is {MAX_TEXT_CHARS:,})")
    return kept


def _check_encodable(fields: Mapping[str, Any], where: str) -> None:
    """JSON escapes can smuggle in lone surrogates, which no UTF-8 store or hash accepts."""
    for name in FIELDS:
        value = fields.get(name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRecord(where, f"{name} is not valid Unicode (lone surrogate)") from None


def _read_txt(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    try:
        content = capped_text(_decode_file(path, warn), str(path), warn)
    except BadRecord as bad:
        on_bad(bad)
        return
    # The first line is the title; it stays in the text too, so nothing of the file goes unsearched
    # (the seed articles open with a whole paragraph on that line).
    title = content.partition("\n")[0].strip()
    body = content.partition("\n")[2].lstrip()  # the first line is the title; a dateline opens what follows
    yield Article(
        id=file_id, text=content, title=title, lang=detect_lang(content), origin=str(path),
        dateline=dateline(content) or dateline(body),
    )  # fmt: skip


def _read_html(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    try:
        yield html_article(_decode_file(path, warn), file_id, str(path), warn, where=f"{path}:1")
    except BadRecord as bad:
        on_bad(bad)


def _read_feed(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    from indexer.feeds import read_feed  # feedparser is imported only for feeds

    return read_feed(path, on_bad, warn)


def _read_warc(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    from indexer.warc import read_warc

    return read_warc(path, on_bad, warn)


def html_article(page: str, article_id: str, origin: str, warn: Warn, *, where: str, url: str | None = None) -> Article:
    """The article of an HTML page: its main text (trafilatura), title, publish date, outlet, canonical URL
    (else ``url``, where the page was fetched from), byline and dateline. BadRecord at ``where`` when it has
    no text."""
    import trafilatura  # imported here: it takes ~0.5 s and only HTML sources need it

    # favor_precision drops nav/footer text that the default keeps on small pages
    found = trafilatura.extract(page, include_comments=False, favor_precision=True)
    text = capped_text(found or trafilatura.extract(page, include_comments=False) or "", where, warn)
    if not text:
        raise BadRecord(where, "no article text found in HTML")
    # extensive=False: only dates the page declares, not guesses from "Copyright 2018" footers
    meta = trafilatura.extract_metadata(page, extensive=False)
    title = clean_field(meta.title) or ""
    return Article(
        id=article_id,
        text=text,
        title=title,
        date=field_date(published(page) or clean_field(meta.date), where, warn),
        source=clean_field(meta.sitename),
        lang=detect_lang(f"{title} {text}"),
        url=clean_field(meta.url) or url,
        origin=origin,
        author=clean_field(meta.author),
        dateline=dateline(text) or dateline(text.removeprefix(title).lstrip()),  # the headline may open the text
    )


def published(page: str) -> str | None:
    """The publish date an HTML page declares: a ``<meta>`` of ``PUBLISHED_META`` (first found in that order),
    else ``datePublished`` in its JSON-LD. Read here, not by htmldate alone, which refuses dates before 1995."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fromstring(page)
    except (etree.ParserError, ValueError):
        return None
    declared: dict[str, str] = {}
    for element in root.iter("meta"):
        key = (element.get("property") or element.get("name") or element.get("itemprop") or "").strip().lower()
        if key and element.get("content") and key not in declared:
            declared[key] = element.get("content", "")
    found = next((declared[name] for name in PUBLISHED_META if clean_field(declared.get(name))), None)
    if found:
        return clean_field(found)
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json" and script.text:
            try:
                value = _json_ld_date(json.loads(script.text))
            except (ValueError, RecursionError):
                continue
            if value:
                return value
    return None


def _json_ld_date(node: Any, depth: int = 0) -> str | None:
    if depth > 8:
        return None
    if isinstance(node, dict):
        if isinstance(node.get("datePublished"), str):
            return clean_field(node["datePublished"])
        node = [node.get("@graph")] if node.get("@graph") else []
    if isinstance(node, list):
        return next((d for d in (_json_ld_date(n, depth + 1) for n in node) if d), None)
    return None


def _decode_file(path: Path, warn: Warn) -> str:
    """A whole file as text: UTF-8 (BOM allowed), else charset-normalizer's best guess, with a warning."""
    size = path.stat().st_size
    if size > MAX_RECORD_BYTES:
        raise BadRecord(f"{path}:1", f"file of {size:,} bytes is over the {MAX_RECORD_BYTES:,}-byte limit; not read")
    content = decode_text(path.read_bytes(), str(path), warn)
    if not content.strip():
        raise BadRecord(f"{path}:1", "empty file")
    return content


def decode_text(data: bytes, name: str, warn: Warn) -> str:
    """Bytes as text: UTF-8 (BOM allowed), else charset-normalizer's best guess, with a warning naming it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        guess = charset_normalizer.from_bytes(data).best()
        if guess is None:
            byte = data[error.start]
            raise BadRecord(f"{name}:1", f"not valid UTF-8 (byte 0x{byte:02x}), encoding unknown") from None
        warn(f"{name}: not valid UTF-8; decoded as {guess.encoding}")
        return str(guess)


def _clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def clean_field(value: Any) -> str | None:
    """A field as a stripped string; None when missing or blank."""
    if value is None:
        return None
    return str(value).strip() or None


def field_date(value: str | None, where: str, warn: Warn) -> str | None:
    parsed = parse_date(value)
    if value is not None and parsed is None:
        warn(f"{where}: unparseable date '{value}'; date left empty")
    return parsed


def field_lang(value: Any, title: str, text: str) -> str:
    given = LANGS.get(value.strip().lower()) if isinstance(value, str) else None
    return given or detect_lang(f"{title} {text}")


READERS: dict[str, Callable[[Path, str, OnBad, Warn], Iterator[Article]]] = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
    ".txt": _read_txt,
    ".html": _read_html,
    ".htm": _read_html,
    ".rss": _read_feed,
    ".atom": _read_feed,
    ".xml": _read_feed,
    ".warc": _read_warc,
    ".warc.gz": _read_warc,
}
