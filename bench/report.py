"""Writing a benchmark's rows: one CSV beside the plot the README shows."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(rows: list[dict], path: Path) -> None:
    """``rows`` (dicts with the same keys, the last one's order) as a CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[-1]))
        writer.writeheader()
        writer.writerows(rows)
