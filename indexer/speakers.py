"""Who said it: the speaker (and title) each sentence of an article attributes its words to.

A sentence is attributed when it holds a reporting verb or phrase (Arabic قال، أكد، أوضح، أشار، أعلن، صرّح، لفت،
شدد، أضاف، ذكر، نقل عن، بحسب، وفقاً لـ…; English said, told, added, according to…) with its subject: the noun
phrase after the verb in Arabic (``indexer.speakers_ar``), before or after it in English. The phrase is cut into a
name and a title («المتحدثة باسم البيت الأبيض سارة ساندرز»: name سارة ساندرز; "Dome chairman J. Howard
Macdonald": name J. Howard Macdonald); a phrase that names nobody (الوزارة، "the company", "dealers") is the
speaker as it stands. A verb with no subject («وأضاف أن…», "he said") carries the speaker of one of the
article's last few sentences. Rules only, no model: ``make bench-speakers`` measures them on a hand-labelled
set of news-dev sentences (``bench/speakers.jsonl``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from indexer.normalize import normalize_text, tokens

if TYPE_CHECKING:
    from indexer.store import Store

SPEAKER_VERSION = 1  # bump when the rules change: every article's speakers are found again
CARRY_SENTENCES = 4  # a verb with no subject takes the speaker of one of this many sentences before it
FULL_NAME_WORDS = 4  # «القلاف» is «هاشم القلاف» when the article names him so, in at most this many words
SETTLE_CHUNK = 500  # articles whose speakers are written per transaction


@dataclass(frozen=True)
class Attribution:
    """The speaker a sentence quotes or reports, as the article writes it, with the title given beside it."""

    speaker: str
    title: str | None = None
    carried: bool = False  # the sentence names nobody: the speaker comes from an earlier sentence
    by_particle: bool = False  # named by «بحسب»/"according to", not as the subject of a reporting verb


def attribute(text: str, spans: Sequence[tuple[int, int]], lang: str) -> list[Attribution | None]:
    """The attribution of each sentence ``text[a:b]`` of one article, in order (None: it reports nobody)."""
    from indexer.speakers_ar import arabic_attribution

    find = arabic_attribution if lang == "ar" else english_attribution
    found: list[Attribution | None] = []
    last: tuple[int, Attribution] | None = None
    for i, (a, b) in enumerate(spans):
        result = find(text[a:b])
        if result is not None and result.carried:
            result = replace(last[1], carried=True) if last and i - last[0] <= CARRY_SENTENCES else None
        if result is not None and not result.by_particle:
            last = (i, result)  # «بحسب…», "according to" name a source, not the one "he" refers to
        found.append(result)
    return _full_names(found)


def speaker_key(name: str) -> str:
    """A speaker's name folded for matching (``indexer.normalize``): spelling, case and punctuation aside."""
    return " ".join(t.text for t in tokens(normalize_text(name)))


def names_match(key: str, wanted: str) -> bool:
    """Whether the folded speaker ``key`` is ``wanted`` or ends with it as whole words (a surname names him)."""
    return key == wanted or key.endswith(" " + wanted)


def _full_names(found: list[Attribution | None]) -> list[Attribution | None]:
    """Each speaker under the fullest name the article gives them: «القلاف» after «هاشم القلاف» is him."""
    keys = {speaker_key(a.speaker) for a in found if a is not None}
    full: dict[str, str] = {}
    for a in found:
        if a is None:
            continue
        key = speaker_key(a.speaker)
        longer = [k for k in keys if k != key and names_match(k, key) and len(k.split()) <= FULL_NAME_WORDS]
        if longer:  # a name over a title: «هاشم القلاف» before «الوكيل القلاف»
            best = max(longer, key=lambda k: (not _titled(k), len(k)))
            full[key] = next(x.speaker for x in found if x is not None and speaker_key(x.speaker) == best)
    return [replace(a, speaker=full[speaker_key(a.speaker)]) if a and speaker_key(a.speaker) in full else a
            for a in found]  # fmt: skip


def _titled(key: str) -> bool:
    from indexer.speakers_ar import TITLE_WORDS

    return key.split()[0] in TITLE_WORDS or key.split()[0] in EN_TITLES


def settle_speakers(store: Store, *, chunk: int = SETTLE_CHUNK) -> int:
    """Find the speakers of every article whose sentences were written (or whose rules changed) since the last
    run, ``chunk`` articles per transaction; returns how many articles were read."""
    settled = 0
    while pending := store.articles_without_speakers(SPEAKER_VERSION, chunk):
        with store.transaction():
            for article in store.articles(pending).values():
                spans = store.sentence_spans(article.id)
                said = attribute(article.text, [(a, b) for _, a, b in spans], article.lang)
                rows = [(i, x.speaker, x.title, speaker_key(x.speaker)) if x else (i, None, None, None)
                        for (i, _, _), x in zip(spans, said, strict=True)]  # fmt: skip
                store.set_speakers(article.id, rows, SPEAKER_VERSION)
            store.bump_generation()
        settled += len(pending)
    return settled


# --- English --------------------------------------------------------------------------------------------------

EN_VERBS = re.compile(
    r"\b(said|says|told|tells|added|adds|stated|announced|noted|explained|warned|reported|argued|insisted|"
    r"reaffirmed|affirmed|confirmed|stressed|predicted|commented|acknowledged|conceded|claimed|asserted|"
    r"declared|disclosed|revealed|according to)\b"
)
EN_PRONOUNS = {"he", "she", "it", "they", "we", "i"}
EN_SKIP = re.compile(r"\b(has|have|had|also|then|later|repeatedly|pointedly|again|further|previously|today|"
                     r"yesterday|earlier|recently|reportedly|publicly|privately|separately|officially|flatly|"
                     r"firmly|strongly|clearly|simply|only|still|however|once|now)\b")  # fmt: skip
EN_TITLES = {  # words that stand before a name as its title ("Treasury Secretary James Baker")
    "president", "chairman", "chairwoman", "senator", "secretary", "minister", "governor", "director",
    "spokesman", "spokeswoman", "analyst", "economist", "officer", "manager", "mr", "mrs", "ms", "dr",
    "chancellor", "exchequer", "commissioner", "ambassador", "representative", "congressman", "sen", "rep", "gov",
    "judge", "attorney", "premier", "king", "queen", "prince", "sheikh",
}  # fmt: skip
EN_CUT = re.compile(r"\b(that|who|which|whose|when|after|as|because|while|but|and then)\b")
NAME_WORD = re.compile(r"^(?:[A-Z][\w'&.-]*|[A-Z]\.|(?:al|el|ibn|abu|de|van)-[A-Z][\w'-]*|&|and|of|de|van|von|al|bin|"
                       r"arap)$")  # fmt: skip
CONNECTORS = ("and", "of", "de", "van", "von", "al", "bin", "arap", "&")
DETERMINERS = {"the", "a", "an", "one", "two", "some", "several", "other", "another", "both", "many", "most"}
LEADING = re.compile(r"^(?:(?:but|and|so|also|in addition|meanwhile|however|as|while|since|because|when|after|"
                     r"although|though|if)\s+)+", re.I)  # fmt: skip
PARENS = re.compile(r"\([^()]*\)")
PASSIVE = re.compile(r"\b(was|were|is|are|been|be|being)\s+$")


def english_attribution(sentence: str) -> Attribution | None:
    kept = re.sub(r"[<>]", "", sentence)  # "<Sterling Grace Capital Management L.P.> group"
    for match in EN_VERBS.finditer(kept):
        acronym = re.search(r"\(([A-Z][A-Za-z&.-]{1,9})\)\s*$", kept[: match.start()])
        # "(CFTC)", "(G-5)": asides that say nothing of who, but for the acronym right before the verb
        before, after = (PARENS.sub(" ", part) for part in (kept[: match.start()], kept[match.end() :]))
        if PASSIVE.search(before) or (len(re.findall(r"[\"“”]", before)) % 2 and re.search(r"[\"“”]", after)):
            continue  # "it was said"; a verb inside a quotation reports what the quoted said
        if acronym and match.group(1) != "according to":  # "… Asia and the Pacific (ESCAP) said"
            return Attribution(acronym.group(1))
        if match.group(1) == "according to":
            found = _en_phrase(re.split(r"[,;.]\s|\.$", after.strip(), maxsplit=1)[0])
            return replace(found, by_particle=True) if found else None
        if re.search(r"[\"“”']\s*$", before) or not before.strip():  # '"…," said Azusa Hayashi, Director of …'
            return _en_phrase(re.split(r"[;.]\s|\.$|\s\"", after.strip(), maxsplit=1)[0], inverted=True)
        found = _en_subject(re.sub(r",\s*$", "", before))
        if found is not None:
            return found
    return None


def _en_subject(before: str) -> Attribution | None:
    """The noun phrase just before a reporting verb: a pronoun carries, a name keeps its title apart."""
    parts = [p.strip() for p in re.split(r"[,;:\"“”]|--", before)]
    while len(parts) > 1 and re.match(r"(who|which|whose)\b", parts[-1]):
        parts.pop()  # "Peter Beutel, oil analyst with Elders Futures inc, who looks for a build said"
    if len(parts) > 1 and _descriptor(parts[-1]) and _trailing_name(parts[-2].split()):
        return Attribution(_trailing_name(parts[-2].split()), parts[-1])
    last = EN_SKIP.sub(" ", parts[-1]).split()
    if len(parts) > 1 and (not last or (last[0].endswith("ing") and last[0].islower())):
        parts.pop()  # "Camargo, pointedly said"; "The officials, looking beneath …, told"
        last = EN_SKIP.sub(" ", parts[-1]).split()
    if not last:
        return None
    if len(last) == 1 and last[0].lower() in EN_PRONOUNS:
        return Attribution("", carried=True)
    phrase = " ".join(last)
    if phrase.split()[0].lower() in ("a", "an") and len(parts) > 1:  # "Manuel Rico, a consultant with …, told"
        name = _trailing_name(parts[-2].split())
        if name:
            return Attribution(name, phrase)
    if len(last) > 7:
        phrase = EN_CUT.split(phrase)[-1].strip()
    phrase = LEADING.sub("", phrase)
    return _en_phrase(phrase) if phrase else None


def _descriptor(part: str) -> bool:
    """ "oil analyst with Elders Futures inc", "wholly-owned by Cae Industries Ltd": what stands beside a name."""
    words = part.split()
    return (
        bool(words)
        and words[0][0].islower()
        and words[0].lower() not in DETERMINERS
        and bool(re.search(r"\b(by|of|with|at|for|in)\b", part))
    )


def _en_phrase(phrase: str, *, inverted: bool = False) -> Attribution | None:
    """A speaker phrase cut into name and title: "lead manager Swiss Volksbank" → Swiss Volksbank, lead manager."""
    head, _, rest = phrase.partition(",") if inverted else (phrase, "", "")
    words = EN_CUT.split(head)[0].split() if inverted else head.split()
    if (
        not words
        or len(words) > 9
        or not re.search(r"[^\W\d_]", head)
        or (len(words) == 1 and words[0].lower() in DETERMINERS | EN_PRONOUNS)
    ):
        return None  # "310 said", "one said": nobody named
    if words[0].lower() in DETERMINERS:
        return Attribution(" ".join(words), rest.strip() or None)
    name = _trailing_name(words)
    if not name:  # "dealers", "Trade house sources": nobody named, the phrase is the speaker
        return Attribution(" ".join(words), rest.strip() or None) if len(words) <= 6 else None
    title = " ".join(words[: len(words) - len(name.split())]) or rest.strip() or None
    return Attribution(name, title)


def _trailing_name(words: Sequence[str]) -> str:
    """The capitalised words that end ``words``, titles at their head left out ("Senator Affonso Camargo")."""
    run: list[str] = []
    for word in reversed(words):
        if not NAME_WORD.match(word):
            break
        run.insert(0, word)
    titled = [i for i, word in enumerate(run[:-1]) if word.lower().strip(".") in EN_TITLES]
    if titled:  # "Cabinet Affairs Minister Rashid al-Rashid": the name follows the title's last word
        run = run[titled[-1] + 1 :]
    while run and run[0] in CONNECTORS:
        run.pop(0)
    return " ".join(run)
