"""Batch search: a JSONL file of ``{"qid", "query"}`` objects in, one JSON object per line out."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.errors import BadRecord, SahafaError
from search_app.output import hit_json, languages_json
from search_app.search import Searcher


def run_batch(searcher: Searcher, path: Path, options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Search every line of ``path``; a bad line yields ``{"qid", "line", "error"}`` and the batch goes on."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            row: dict[str, Any] = {}
            try:
                row = _object(raw, where)
                query = row.get("query")
                if not isinstance(query, str):
                    raise BadRecord(where, "missing 'query' (a string)" if query is None else "'query' is not a string")
                results = searcher.results(query, **options)
            except SahafaError as exc:
                reason = exc.reason if isinstance(exc, BadRecord) else str(exc)
                yield {"qid": row.get("qid"), "line": number, "error": f"{where}: {reason}"}
            else:
                hits = [hit_json(h) for h in results.hits]
                yield {"qid": row.get("qid"), "results": hits, "languages": languages_json(results)}


def _object(raw: bytes, where: str) -> dict[str, Any]:
    """One line as a JSON object; raises BadRecord saying what is wrong with it."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRecord(where, f"not valid UTF-8 ({exc.reason})") from None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(where, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise BadRecord(where, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise BadRecord(where, f"invalid JSON: {str(exc).split(':')[0]}") from None
    if not isinstance(row, dict):
        raise BadRecord(where, f"expected a JSON object, found {type(row).__name__}")
    return row
