"""Arabic and English normalisation with a map back to the original text.

Each step is a small pure ``str -> str`` function over a module-level table. ``normalize`` runs them
over the text cluster by cluster (a base character and the combining marks after it), so every
character of the result knows the slice of the original it came from. The original text is never
changed: highlights found on normalised text land on it through ``Normalized.original_span``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

import Stemmer
from pyarabic import araby

NORMALIZER_VERSION = 1

# Harakat (fathatan … sukun, shadda), their extended forms, hamza above/below marks,
# the dagger alef, and the Quranic annotation signs.
HARAKAT = str.maketrans(
    dict.fromkeys(
        [ord(c) for c in araby.TASHKEEL]
        + list(range(0x0610, 0x061B))  # Quranic honorifics and small marks
        + list(range(0x064B, 0x0660))  # harakat and extended marks, incl. hamza above/below
        + [0x0670]  # dagger (superscript) alef
        + list(range(0x06D6, 0x06DD))
        + list(range(0x06DF, 0x06E5))
        + [0x06E7, 0x06E8]
        + list(range(0x06EA, 0x06EE)),
    )
)
TATWEEL = str.maketrans({ord(araby.TATWEEL): None})
# Zero-width characters, the soft hyphen and every bidi control (marks, embeddings, isolates).
CONTROLS = str.maketrans(
    dict.fromkeys(
        [0x00AD, 0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF]
        + list(range(0x202A, 0x202F))
        + list(range(0x2066, 0x206A))
    )
)
# Letter forms that readers and writers use interchangeably. pyarabic's normalize_alef maps ى to ا,
# which is wrong for search (على ≠ علا), so the table is ours.
ALEF_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا"})
LETTER_FORMS = str.maketrans({"ؤ": "و", "ئ": "ي", "ى": "ي", "ة": "ه", "ی": "ي", "ک": "ك", "ۀ": "ه"})
DIGITS = str.maketrans(
    {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}, 0x066B: "."}
)


def nfkc(text: str) -> str:
    """Unicode compatibility composition: presentation forms and ligatures become plain letters."""
    return unicodedata.normalize("NFKC", text)


def strip_harakat(text: str) -> str:
    return text.translate(HARAKAT)


def strip_tatweel(text: str) -> str:
    return text.translate(TATWEEL)


def strip_controls(text: str) -> str:
    return text.translate(CONTROLS)


def fold_alef(text: str) -> str:
    return text.translate(ALEF_FORMS)


def fold_letters(text: str) -> str:
    return text.translate(LETTER_FORMS)


def fold_digits(text: str) -> str:
    return text.translate(DIGITS)


def lower(text: str) -> str:
    return text.lower()


STEPS = (nfkc, strip_harakat, strip_tatweel, strip_controls, fold_alef, fold_letters, fold_digits, lower)


def normalize_text(text: str) -> str:
    """The normalised form of ``text`` (no offset map)."""
    for step in STEPS:
        text = step(text)
    # A second NFKC pass: lowercasing or deletions can leave a composable sequence behind.
    return nfkc(text) if not unicodedata.is_normalized("NFKC", text) else text


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus, for each of its characters, the original slice it came from."""

    text: str
    original: str
    starts: tuple[int, ...]  # starts[i]: start in ``original`` of the cluster that produced text[i]
    ends: tuple[int, ...]  # ends[i]: end in ``original`` of that cluster

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text to the smallest original span that produces it."""
        if not self.text:
            return (0, 0)
        start = min(max(start, 0), len(self.text))
        end = min(max(end, start), len(self.text))
        if start == end:
            pos = self.starts[start] if start < len(self.text) else len(self.original)
            return (pos, pos)
        return (self.starts[start], self.ends[end - 1])

    def normalized_offset(self, original_pos: int) -> int:
        """Index of the first normalised character produced at or after ``original_pos``."""
        return bisect_left(self.starts, original_pos)


def _combining_class() -> str:
    """A regex character class of every combining mark (NFKC may compose them with what precedes)."""
    marks = [c for c in range(0x20000) if unicodedata.combining(chr(c))]
    ranges, start = [], marks[0]
    for prev, cur in zip(marks, [*marks[1:], None], strict=True):
        if cur != prev + 1:
            ranges.append(f"\\U{start:08x}" + (f"-\\U{prev:08x}" if prev != start else ""))
            start = cur
    return "[" + "".join(ranges) + "]"


# A cluster: one character (or a run of Hangul jamo/syllables and the character after it) and the
# combining marks that follow. NFKC never composes across cluster boundaries, so each cluster can be
# normalised on its own and every output character knows the original slice it came from.
CLUSTER = re.compile(r"(?:[\u1100-\u11ff\uac00-\ud7a3]+.?|.)" + _combining_class() + "*", re.S)
_CLUSTER_CACHE: dict[str, str] = {}


def normalize(text: str) -> Normalized:
    """Normalise ``text`` and keep the offset map back to it."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    cache = _CLUSTER_CACHE
    for match in CLUSTER.finditer(text):
        cluster = match.group()
        piece = cache.get(cluster)
        if piece is None:
            piece = normalize_text(cluster)
            if len(cache) < 100_000:
                cache[cluster] = piece
        if piece:
            out.append(piece)
            n = len(piece)
            starts.extend([match.start()] * n)
            ends.extend([match.end()] * n)
    return Normalized("".join(out), text, tuple(starts), tuple(ends))


# --- tokens and stems for lexical search ---------------------------------------------------------

TOKEN = re.compile(r"[^\W_]+")
ARABIC_CHAR = re.compile(r"[\u0600-\u06FF\u0750-\u077F]")


@dataclass(frozen=True)
class Token:
    """A word of the normalised text: its form, its stem, and its span in the normalised text."""

    text: str
    stem: str
    start: int
    end: int


@lru_cache(maxsize=2)
def _stemmer(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(lang)


@lru_cache(maxsize=200_000)
def stem_word(word: str) -> str:
    """Stem one normalised word with the Arabic or English Snowball stemmer, chosen by its script."""
    lang = "arabic" if ARABIC_CHAR.search(word) else "english"
    return _stemmer(lang).stemWord(word)


def tokens(normalized_text: str) -> list[Token]:
    """Words of already-normalised text with their stems and spans."""
    return [Token(m.group(), stem_word(m.group()), m.start(), m.end()) for m in TOKEN.finditer(normalized_text)]


@dataclass(frozen=True)
class Word:
    """A word as ``tokens`` finds it in the normalised text, placed on the original: ``original[start:end]``."""

    text: str
    stem: str
    start: int
    end: int


CHUNK = re.compile(r"\S+")


def original_words(text: str, start: int = 0, end: int | None = None) -> list[Word]:
    """The words of ``text[start:end]`` (normalised, stemmed) with their spans in ``text``: the same words and spans
    as ``tokens(normalize(...).text)`` mapped back through the offset map, found chunk by whitespace-separated
    chunk with each distinct chunk normalised once per process (words repeat: a result page costs lookups)."""
    words: list[Word] = []
    for match in CHUNK.finditer(text, start, len(text) if end is None else end):
        at = match.start()
        words += [Word(form, stem, at + a, at + b) for form, stem, a, b in chunk_words(match.group())]
    return words


def _one_to_one(ranges: tuple[range, ...]) -> tuple[re.Pattern[str], dict[int, str]]:
    """A pattern of runs of the characters in ``ranges`` that normalise, each on its own, to exactly one character
    and combine with nothing (no combining marks; Hangul is outside), and the table of those that change."""
    chars = [chr(c) for r in ranges for c in r if not unicodedata.combining(chr(c))]
    kept = {c: normalize_text(c) for c in chars}
    kept = {c: form for c, form in kept.items() if len(form) == 1}
    pattern = re.compile("[" + "".join(re.escape(c) for c in kept) + "]+")
    return pattern, str.maketrans({c: form for c, form in kept.items() if form != c})


# Latin, Arabic and general punctuation: 97 % of news-dev's distinct chunks are made of these alone.
ONE_TO_ONE, ONE_TO_ONE_FORMS = _one_to_one((range(0x0000, 0x0700), range(0x2000, 0x2070)))


@lru_cache(maxsize=200_000)
def chunk_words(chunk: str) -> tuple[tuple[str, str, int, int], ...]:
    """(form, stem, start, end) of the words of one whitespace-free chunk, spans in the chunk (cached)."""
    if ONE_TO_ONE.fullmatch(chunk):  # each character normalises to one: ``normalize``'s map is the identity
        return tuple((t.text, t.stem, t.start, t.end) for t in tokens(chunk.translate(ONE_TO_ONE_FORMS)))
    norm = normalize(chunk)
    return tuple((t.text, t.stem, *norm.original_span(t.start, t.end)) for t in tokens(norm.text))


def stemmed(text: str) -> str:
    """The stemmed form of ``text`` for the full-text index: normalised words, stemmed, space-joined."""
    return " ".join(t.stem for t in tokens(normalize_text(text)))
