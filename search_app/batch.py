"""Batch search: a JSONL file of ``{"qid", "query"}`` objects in, one JSON object per line out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.errors import BadRecord, SahafaError
from indexer.ingest import MAX_RECORD_BYTES, bounded_lines, decode_line, json_object
from search_app.output import hit_json, languages_json
from search_app.search import Searcher


def run_batch(searcher: Searcher, path: Path, options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Search every line of ``path``; a bad line yields ``{"qid", "line", "error"}`` and the batch goes on."""
    with path.open("rb") as handle:
        for number, raw in enumerate(bounded_lines(handle), 1):
            if raw is not None and not raw.strip():
                continue
            where = f"{path}:{number}"
            row: dict[str, Any] = {}
            try:
                if raw is None:
                    raise BadRecord(where, f"line longer than {MAX_RECORD_BYTES:,} bytes; not read")
                row = json_object(decode_line(raw, where), where)
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
