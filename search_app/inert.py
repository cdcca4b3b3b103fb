"""Text from articles and users made inert for where it goes: HTML element content, a terminal, a JSON line.

Direction controls (embeddings, overrides, isolates) are shown and never applied. The normaliser drops them
before matching, so a page that applied them would show words in an order other than the one that matched:
"lanif" on screen for a stored and matched "final". On a terminal, control characters are shown as ``\\xNN``:
an escape sequence in a title could otherwise move the cursor, rewrite earlier lines or retitle the window.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from typing import Any

DIRECTION_CONTROLS = {
    0x202A: "LRE", 0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO",
    0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI",
}  # fmt: skip
DIRECTION_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 controls but tab and newline, DEL, and C1 (0x9b starts an escape sequence on some terminals).
UNSAFE = [*(c for c in range(0x20) if c not in (0x09, 0x0A)), 0x7F, *range(0x80, 0xA0)]
SURROGATES = range(0xD800, 0xE000)  # lone surrogates (from JSON's "\\ud800") cannot be written as UTF-8
TERMINAL = str.maketrans(
    {
        **{c: f"\\x{c:02x}" for c in UNSAFE},
        **{c: f"\\u{c:04x}" for c in SURROGATES},
        **{c: f"[{name}]" for c, name in DIRECTION_CONTROLS.items()},
    }
)
# json.dumps escapes C0 itself; these are escaped too, as every JSON reader decodes them back unchanged.
JSON_UNSAFE = [0x7F, *range(0x80, 0xA0), *DIRECTION_CONTROLS, 0x2028, 0x2029, *SURROGATES]
JSON_ESCAPES = str.maketrans({c: f"\\u{c:04x}" for c in JSON_UNSAFE})


def escape(text: str) -> str:
    """``html.escape`` for element content, with each direction control replaced by a visible, inert mark."""
    return DIRECTION_CONTROL.sub(_control_html, html.escape(text))


def has_direction_controls(text: str) -> bool:
    return DIRECTION_CONTROL.search(text) is not None


def terminal(text: str) -> str:
    """``text`` safe to print: control characters shown as ``\\xNN``, direction controls as ``[RLO]`` and the like."""
    return text.translate(TERMINAL)


def json_line(value: Any, *, indent: int | None = None) -> str:
    """JSON with non-ASCII text as is, but DEL, C1 and direction controls escaped (``\\u202e``)."""
    return json.dumps(value, ensure_ascii=False, indent=indent).translate(JSON_ESCAPES)


def _control_html(found: re.Match[str]) -> str:
    char = found.group()
    name = f"U+{ord(char):04X} {unicodedata.name(char)}"
    return (
        f'<span class="sahafa-control" title="{name}: a direction control in the text, shown and not applied">'
        f"{DIRECTION_CONTROLS[ord(char)]}</span>"
    )
