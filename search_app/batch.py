"""Batch search: a JSONL file of ``{"qid", "query"}`` objects in, one JSON object per line out."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.errors import SahafaError
from search_app.output import hit_json, languages_json
from search_app.search import Searcher


def run_batch(searcher: Searcher, path: Path, options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Search every line of ``path``; a bad line yields ``{"qid", "line", "error"}`` and the batch goes on."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            qid: Any = None
            try:
                line = raw.decode("utf-8")
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
                except RecursionError:
                    raise ValueError("invalid JSON: nested too deeply") from None
                except ValueError as exc:  # an integer of more than 4,300 digits
                    raise ValueError(f"invalid JSON: {str(exc).split(':')[0]}") from None
                if not isinstance(row, dict):
                    raise ValueError(f"expected a JSON object, found {type(row).__name__}")
                qid = row.get("qid")
                query = row.get("query")
                if not isinstance(query, str):
                    raise ValueError("missing 'query' (a string)" if query is None else "'query' is not a string")
                results = searcher.results(query, **options)
            except UnicodeDecodeError as exc:
                yield {"qid": qid, "line": number, "error": f"{path}:{number}: not valid UTF-8 ({exc.reason})"}
            except (ValueError, SahafaError) as exc:
                yield {"qid": qid, "line": number, "error": f"{path}:{number}: {exc}"}
            else:
                hits = [hit_json(h) for h in results.hits]
                yield {"qid": qid, "results": hits, "languages": languages_json(results)}
