"""Language detection by script: Arabic-script share of the letters is enough for ar/en."""

from __future__ import annotations

import re

ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFC]")
LETTER = re.compile(r"[^\W\d_]")
ARABIC_SHARE = 0.3


def arabic_share(text: str) -> float:
    """Share of letters in ``text`` that are in Arabic script (0.0 when there are none)."""
    letters = len(LETTER.findall(text))
    if not letters:
        return 0.0
    return len(ARABIC_LETTER.findall(text)) / letters


def detect_lang(text: str) -> str:
    """``"ar"`` when at least 30 % of the letters are Arabic script, else ``"en"``."""
    return "ar" if arabic_share(text) >= ARABIC_SHARE else "en"
