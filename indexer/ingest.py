"""Read articles from JSONL, CSV, plain-text and HTML sources into ``Article`` records.

Bad records are reported through ``on_bad`` and skipped; reading goes on. The article text is never
altered beyond decoding, turning ``\\r\\n`` and ``\\r`` into ``\\n`` and stripping the ends.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import charset_normalizer
from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning

from indexer.errors import BadRecord, BadSource
from indexer.lang import detect_lang
from indexer.records import Article

Warn = Callable[[str], None]
OnBad = Callable[[BadRecord], None]

FIELDS = ("id", "title", "text", "date", "source", "lang", "url")
LANGS = {"ar": "ar", "arabic": "ar", "en": "en", "english": "en"}
ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
# Two far-apart defaults: whatever differs between the two parses was not in the input.
DATE_DEFAULTS = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1))
DIGIT = re.compile(r"\d")
DAY_FIRST = re.compile(r"\s*(\d{1,2})\D")


def read_sources(paths: Sequence[str | Path], on_bad: OnBad, on_warning: Warn | None = None) -> Iterator[Article]:
    """Articles from every file or folder in ``paths``, in order; folders are walked recursively, sorted.

    Raises ``BadSource`` at once, before anything is read, for a missing path or an unsupported file named
    directly. Inside folders, hidden entries and files of other types are skipped silently.
    """
    if isinstance(paths, str | Path):  # one path, not a sequence of characters
        paths = [paths]
    files = [found for path in paths for found in _source_files(Path(path))]
    warn = on_warning or (lambda message: None)
    return chain.from_iterable(READERS[f.suffix.lower()](f, file_id, on_bad, warn) for f, file_id in files)


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


def _source_files(path: Path) -> Iterator[tuple[Path, str]]:
    """(file, id for a one-article file) pairs; the id is the path under ``path`` without extension."""
    if path.is_dir():
        for folder, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                file = Path(folder, name)
                if not name.startswith(".") and file.suffix.lower() in READERS:
                    yield file, file.relative_to(path).with_suffix("").as_posix()
    elif path.is_file():
        if path.suffix.lower() not in READERS:
            kinds = ", ".join(sorted(READERS))
            raise BadSource(f"unsupported file type '{path.suffix}': {path} (expected one of {kinds})")
        yield path, path.stem
    else:
        raise BadSource(f"no such file or directory: {path}")


def _read_jsonl(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    seen = False
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            seen = True
            where = f"{path}:{number}"
            try:
                yield _article(_json_object(_decode_line(raw, where), where), where, warn)
            except BadRecord as bad:
                on_bad(bad)
    if not seen:
        on_bad(BadRecord(f"{path}:1", "empty file"))


def _decode_line(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        raise BadRecord(where, f"not valid UTF-8 (byte 0x{byte:02x} at column {error.start + 1})") from None


def _json_object(line: str, where: str) -> dict[str, Any]:
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
            for number, raw in enumerate(lines, start=1):
                _decode_line(raw, f"{path}:{number}")
    except BadRecord as bad:
        on_bad(bad)
        return
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # long articles exceed the 128 KiB default
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            on_bad(BadRecord(f"{path}:1", "empty file"))
            return
        names = [name.strip().lower() for name in header]
        if "text" not in names:
            on_bad(BadRecord(f"{path}:1", "no 'text' column in header"))
            return
        for where, row in _csv_rows(reader, path, on_bad):
            try:
                if len(row) != len(names):
                    raise BadRecord(where, f"expected {len(names)} fields, found {len(row)}")
                yield _article(dict(zip(names, row, strict=True)), where, warn)
            except BadRecord as bad:
                on_bad(bad)


def _csv_rows(reader: Any, path: Path, on_bad: OnBad) -> Iterator[tuple[str, list[str]]]:
    """Non-blank rows with ``path:line`` of the line each starts on; stops the file at a CSV syntax error."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            on_bad(BadRecord(f"{path}:{start}", f"invalid CSV: {error}"))
            return
        if row:
            yield f"{path}:{start}", row


def _article(fields: Mapping[str, Any], where: str, warn: Warn) -> Article:
    """An Article from a JSONL object or CSV row; raises BadRecord when the text is unusable."""
    text = fields.get("text")
    if text is None:
        raise BadRecord(where, "missing text")
    if not isinstance(text, str):
        raise BadRecord(where, "text is not a string")
    text = _clean_text(text)
    if not text:
        raise BadRecord(where, "empty text")
    _check_encodable(fields, where)
    title = _clean(fields.get("title")) or ""
    return Article(
        id=_clean(fields.get("id")) or content_id(title, text),
        text=text,
        title=title,
        date=_date(_clean(fields.get("date")), where, warn),
        source=_clean(fields.get("source")),
        lang=_lang(fields.get("lang"), title, text),
        url=_clean(fields.get("url")),
        origin=where,
    )


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
        content = _clean_text(_decode_file(path, warn))
    except BadRecord as bad:
        on_bad(bad)
        return
    # The first line is the title; it stays in the text too, so nothing of the file goes unsearched
    # (the seed articles open with a whole paragraph on that line).
    title = content.partition("\n")[0].strip()
    yield Article(id=file_id, text=content, title=title, lang=detect_lang(content), origin=str(path))


def _read_html(path: Path, file_id: str, on_bad: OnBad, warn: Warn) -> Iterator[Article]:
    import trafilatura  # imported here: it takes ~0.5 s and only HTML sources need it

    try:
        html = _decode_file(path, warn)
        # favor_precision drops nav/footer text that the default keeps on small pages
        found = trafilatura.extract(html, include_comments=False, favor_precision=True)
        text = _clean_text(found or trafilatura.extract(html, include_comments=False) or "")
        if not text:
            raise BadRecord(f"{path}:1", "no article text found in HTML")
    except BadRecord as bad:
        on_bad(bad)
        return
    # extensive=False: only dates the page declares, not guesses from "Copyright 2018" footers
    meta = trafilatura.extract_metadata(html, extensive=False)
    title = _clean(meta.title) or ""
    yield Article(
        id=file_id,
        text=text,
        title=title,
        date=_date(_clean(meta.date), str(path), warn),
        source=_clean(meta.sitename),
        lang=detect_lang(f"{title} {text}"),
        url=_clean(meta.url),
        origin=str(path),
    )


def _decode_file(path: Path, warn: Warn) -> str:
    """A whole file as text: UTF-8 (BOM allowed), else charset-normalizer's best guess, with a warning."""
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        guess = charset_normalizer.from_bytes(data).best()
        if guess is None:
            byte = data[error.start]
            raise BadRecord(f"{path}:1", f"not valid UTF-8 (byte 0x{byte:02x}), encoding unknown") from None
        warn(f"{path}: not valid UTF-8; decoded as {guess.encoding}")
        content = str(guess)
    if not content.strip():
        raise BadRecord(f"{path}:1", "empty file")
    return content


def _clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _clean(value: Any) -> str | None:
    """A field as a stripped string; None when missing or blank."""
    if value is None:
        return None
    return str(value).strip() or None


def _date(value: str | None, where: str, warn: Warn) -> str | None:
    parsed = parse_date(value)
    if value is not None and parsed is None:
        warn(f"{where}: unparseable date '{value}'; date left empty")
    return parsed


def _lang(value: Any, title: str, text: str) -> str:
    given = LANGS.get(value.strip().lower()) if isinstance(value, str) else None
    return given or detect_lang(f"{title} {text}")


READERS: dict[str, Callable[[Path, str, OnBad, Warn], Iterator[Article]]] = {
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".csv": _read_csv,
    ".txt": _read_txt,
    ".html": _read_html,
    ".htm": _read_html,
}
