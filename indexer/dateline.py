"""Datelines: the place-and-credit line that opens much wire and agency copy.

``"دبي، الإمارات العربية المتحدة (CNN)-- قالت…"``, ``"LONDON, March 3 (Reuters) - Shares…"``, ``"سبق- الرياض:
أعلنت…"``, ``"إسلام آباد 25 شوال 1436 هـ الموافق 10 أغسطس 2015 م واس\\n…"``. A dateline is recognised only at
the very start of the text, only when it is short, and only in one of these shapes: a credit in parentheses
before a dash, an upper-case English place before a dash, a credit and a place joined by a dash before a
colon, or a short first line that names a news agency. The text itself is never changed: the dateline is a
field beside it.
"""

from __future__ import annotations

import re

# News agencies and outlets whose names make up the credit of a dateline, as they are written in one.
AGENCIES = (
    "Reuters", "AFP", "AP", "CNN", "KUNA", "WAM", "SPA", "QNA", "MENA", "BNA", "ONA", "Xinhua", "Bloomberg", "dpa",
    "رويترز", "أ ف ب", "أ.ف.ب", "ا ف ب", "فرانس برس", "كونا", "واس", "وام", "قنا", "بنا", "أ ش أ", "د ب أ",
    "الأناضول", "سبق", "عين اليوم", "سانا", "بترا", "العمانية",
)  # fmt: skip
MAX_DATELINE = 100  # characters
_AGENCY = "|".join(re.escape(a) for a in sorted(AGENCIES, key=len, reverse=True))
DASH = r"(?:--|[-–—])"
SHAPES = (
    # "PLACE, more (CREDIT) -- " or "PLACE (CREDIT)-"
    re.compile(rf"(?P<line>[^\n()]{{0,80}}\((?:{_AGENCY})\))\s*{DASH}+\s*"),
    # "NEW YORK, March 3 - " (an English place in capitals)
    re.compile(rf"(?P<line>[A-Z][A-Z.'’ ]{{1,30}}[A-Z.](?:,\s*[A-Z][\w.]*(?: \d{{1,2}})?)?)\s+{DASH}\s+"),
    # "سبق- الرياض: " (a credit, then a place)
    re.compile(rf"(?P<line>(?:{_AGENCY})\s*{DASH}\s*[^\n:\-–—]{{2,30}})\s*:\s*"),
    # "محمد أبو شعر- سبق: ", "أحمد الزهراني- سبق- مكة المكرمة: " (a name, the credit, perhaps a place)
    re.compile(rf"(?P<line>[^\n:]{{2,30}}{DASH}\s*(?:{_AGENCY})(?:\s*{DASH}\s*[^\n:\-–—]{{2,30}})?)\s*:\s*"),
    # a first line of its own that starts with a credit and a dash, or ends with a credit:
    # "عين اليوم – جدة", "نايف عبدالله – عين اليوم", "الخرج 26 شوال 1436 هـ الموافق 11 أغسطس 2015 م واس"
    re.compile(rf"(?P<line>(?:{_AGENCY})\s*{DASH}\s*[^\n.!?؟]{{2,40}}|[^\n.!?؟]{{2,80}}(?<=\s)(?:{_AGENCY}))\s*\n"),
)


def dateline(text: str) -> str | None:
    """The dateline that opens ``text``, as written (stripped), or None."""
    head = text[: MAX_DATELINE + 4].lstrip()
    for shape in SHAPES:
        found = shape.match(head)
        if found and len(found.group("line").strip()) <= MAX_DATELINE:
            return found.group("line").strip()
    return None
