"""Who said it, in Arabic: a reporting verb, then its subject («وقال وزير الخارجية عادل الجبير إن…»).

The subject runs from the verb to the first word that begins what was said or where and when it was said (إن،
أن، في، خلال، أمس، لـ…) or to a colon or a quotation mark; commas inside it part a title from a name («المدير
الطبي للمستشفى، الدكتور سعيد سراحنة، إن»). Particles that attribute without a verb (بحسب، وفقاً لـ، حسبما،
نقلاً عن) take the phrase after them. All matching is on normalised words (``indexer.normalize``): أكد and اكد,
قالت and قالت are one word; what is returned is the article's own spelling.
"""

from __future__ import annotations

import re
from dataclasses import replace

from indexer.normalize import normalize_text
from indexer.speakers import Attribution

# Reporting verbs, masculine and feminine, normalised (hamza on alef folded, ة as ه, ى as ي).
VERBS = {
    "قال", "قالت", "اكد", "اكدت", "اوضح", "اوضحت", "اشار", "اشارت", "اعلن", "اعلنت", "صرح", "صرحت", "لفت",
    "لفتت", "شدد", "شددت", "اضاف", "اضافت", "ذكر", "ذكرت", "تابع", "تابعت", "افاد", "افادت", "كشف", "كشفت",
    "اعتبر", "اعتبرت", "نقل", "نقلت", "بينت", "نوه", "نوهت", "اعرب", "اعربت", "حذر", "حذرت", "يقول", "تقول",
    "يري", "راي", "رات", "اوردت", "اورد", "ختم", "ختمت", "استطرد", "زعم", "زعمت", "يضيف",
    "تضيف", "يوكد", "توكد", "كتب", "كتبت", "غرد", "غردت", "توقع", "توقعت", "رجح", "رجحت",
}  # fmt: skip
PARTICLES = {"بحسب", "حسب", "حسبما", "وفقا", "وفق", "نقلا"}
# Words that end a subject: what was said begins, or where, when, to whom or how it was said.
STOPS = {
    "ان", "انه", "انها", "انهم", "انهن", "انني", "اننا", "بان", "بانه", "بانها", "في", "فى", "خلال", "علي", "الي",
    "امس", "اليوم", "يوم", "مساء", "صباح", "عبر", "امام", "لدي", "عن", "بعد", "قبل", "حول", "بشان", "مؤكدا",
    "موكدا", "مشيرا", "مضيفا", "من", "مع", "انذاك", "ايضا", "كذلك", "مجددا", "الاثنين", "الثلاثاء",
    "الاربعاء", "الخميس", "الجمعه", "السبت", "الاحد", "ضم", "بقوله", "بقولها", "ردا", "تعليقا", "لوكاله",
    "لصحيفه", "لقناه", "لموقع", "لـ", "ل", "حيث", "والذي", "الذي", "التي", "الذين", "وذلك", "مرة", "مره", "فيه",
    "فيها", "وهو", "وهي", "بدوره", "بدورها", "تحت", "فان", "فانه", "ويدعي", ".", "!", "?", "؟", "قائلا",
    "قائله", "قائلين", "قائلة", "بالقول", "قوله", "قولها", "بقولهم", "موضحا", "معتبرا", "لافتا", "مشددا",
    "منوها", "مبينا", "مبينه", "مضيفه", "موضحه", "وفي", "وفى", "وعلي", "ومن", "وعن", "وخلال", "بحسب", "حسب",
    "وفقا", "وفق", "حسبما", "نقلا",
}  # fmt: skip
# Heads of a subject that names a role, not a person: «مسؤول في وزارة العمل» keeps its «في».
ROLE_HEADS = {"مسؤول", "مسؤوله", "مصدر", "مصادر", "مسؤولون", "مسؤولين", "قاضيه", "قاض", "دبلوماسي", "خبير",
              "متحدث", "متحدثه", "ناطق", "مسؤول كبير"}  # fmt: skip
# Groups that speak as one («المحللون»، «خبراء»): only adjectives may follow them in the subject («المحللون
# الاقتصاديون»); what else follows is what they said or expect («توقع المحللون زيادة…»).
GROUP_HEADS = {"المحللون", "محللون", "الخبراء", "خبراء", "المختصون", "مختصون", "المستثمرون", "مستثمرون", "التجار",
               "تجار", "المتعاملون", "متعاملون", "مسؤولون", "المسؤولون", "مصادر", "المصادر", "مراقبون", "المراقبون",
               "الباحثون", "باحثون", "محللين", "شهود", "سكان", "ناشطون"}  # fmt: skip
NOT_SOURCES = {"التطورات", "الظروف", "الخطه", "القانون", "الشروط", "المعايير", "الحاجه", "الطلب", "احد"}
RELATIVES = {"التي", "الذي", "الذين", "اللذين", "اللتين", "والتي", "والذي"}
# A verb after these is in a clause of time, not the sentence's own report: «عندما أعلن البيت الأبيض…، قال…».
SUBORDINATE = {"عندما", "حين", "حينما", "بعدما", "عقب", "اثر", "لما", "منذ", "كلما", "فيما"}
# «قال بومبيو للصحفيين»: to whom it was said, though it begins like «للمستشفى» in a title.
AUDIENCES = {"للصحفيين", "للصحافيين", "للصحافه", "للمراسلين", "للاعلام", "للتلفزيون", "للاذاعه", "للصحيفه"}
BEFORE = {"كان", "كانت", "وكان", "وكانت"}  # «وكان السفير … قد صرح»: the subject before the verb
PRONOUNS = {"معاليه", "سعادته", "سموه", "فخامته", "هو", "هي", "سيادته"}
# Words that open a title (a role, a rank, a profession): the name is what follows it, or what ends the phrase.
TITLE_WORDS = {
    "وزير", "الوزير", "وزيره", "رئيس", "الرئيس", "رئيسه", "المتحدث", "المتحدثه", "متحدث", "متحدثه", "الناطق",
    "ناطق", "مدير", "المدير", "مديره", "سفير", "السفير", "الامين", "امين", "نائب", "نائبه", "عضو", "قائد",
    "مستشار", "المستشار", "مساعد", "وكيل", "الوكيل", "مندوب", "المندوب", "ممثل", "المبعوث", "مبعوث", "المنسق",
    "النائب", "العميد", "اللواء", "العقيد", "الفريق", "المدرب", "مدرب", "اللاعب", "لاعب", "نجم", "مدافع",
    "مهاجم", "حارس", "الكاتب", "الكاتبه", "الصحفي", "المحامي", "القاضي", "الدكتور", "الدكتوره", "د", "الشيخ",
    "المهندس", "الامير", "الملك", "ولي", "محافظ", "المحافظ", "امير", "مفوض", "المفوض", "الباحث", "الباحثه",
    "المحلل", "الخبير", "خبير", "استاذ", "استاذه", "الاستاذ", "مسؤول", "المسؤول", "رئيسة", "الميجر", "جنرال",
    "الجنرال", "السياسي", "الناشط", "الناشطه", "المخرج", "الفنان", "الفنانه", "الزعيم", "زعيم", "اخصائيه",
    "اخصائي", "معالي", "سعاده", "سمو", "فخامه", "المفتي", "مفتي", "المدعي",
}  # fmt: skip
NAME_LINKS = {"بن", "ابن", "ابو", "أبو", "عبد", "ال", "آل", "دا", "دي", "فان", "ولد", "بنت"}
DOCUMENTS = {"تقرير", "بيان", "توضيحات", "تصريحات", "تصريح"}
# Words after which a quoted name belongs to the subject: «شركة "أرامكو"», «بحسب تقرير «أدنوك للتوزيع»».
NAMED_BY_QUOTES = {"شركه", "لشركه", "صحيفه", "لصحيفه", "لوكاله", "وكاله", "قناه", "موقع", "منظمه", "حركه",
                   "جماعه", "تنظيم", "حزب", "تقرير", "بيان", "مجله", "اذاعه"}  # fmt: skip
QUOTE_MARKS = {"«", "»", '"', "“", "”"}
TO_WHOM = ("صح", "وك", "قن", "مو", "رو", "بي", "سي")  # «لصحيفة…», «لوكالة…», «لقناة…», «لرويترز», «لبي بي سي»
WORD = re.compile(r"[^\s،,:؛;«»\"“”().!?؟]+|[،,:؛;«»\"“”().!?؟]")
MAX_SUBJECT = 12  # words of a subject, beyond the commas that part a long title from a name
MAX_SUBJECT_TOKENS = 32  # «أكد الوكيل المكلف بوزارة العدل، نائب رئيس اللجنة …، هاشم القلاف، على…»


def _folded(words: set[str]) -> set[str]:
    return {normalize_text(w) for w in words}


VERBS, PARTICLES, STOPS, PRONOUNS, TITLE_WORDS = map(_folded, (VERBS, PARTICLES, STOPS, PRONOUNS, TITLE_WORDS))
NAMED_BY_QUOTES, ROLE_HEADS, NOT_SOURCES, DOCUMENTS = map(_folded, (NAMED_BY_QUOTES, ROLE_HEADS, NOT_SOURCES,
                                                                    DOCUMENTS))  # fmt: skip
SUBORDINATE, AUDIENCES, GROUP_HEADS = map(_folded, (SUBORDINATE, AUDIENCES, GROUP_HEADS))
JOINABLE = VERBS | PARTICLES  # words that «و» or «ف» may join to what came before
TANWEEN_FATH = "\u064b"  # «تعقيباً»، «رداً»: an adverb of how it was said, never the one who said it


def arabic_attribution(sentence: str) -> Attribution | None:
    """The first attribution of the sentence; a particle's («وبحسب رويترز، قالت المؤسسة…») gives way to the verb
    right after it."""
    words = [(m.group(), normalize_text(m.group()).strip("ـ")) for m in WORD.finditer(sentence)]
    for i, (_, form) in enumerate(words):
        bare = _bare(form)
        if i and words[i - 1][1] in RELATIVES | SUBORDINATE:
            continue  # «الهيئة … التي بيّنت»: the verb's subject is what came before
        if bare in VERBS and not _after_ma(words, i):
            found = _subject(words, i + 1, verb=bare)
            if found is not None and found.carried:
                found = _subject_before(words, i) or found
        elif bare in PARTICLES or bare in VERBS:
            found = _subject(words, i + 1 + _skip_ma(words, i + 1, bare), verb=bare, particle=True)
            after = _verb_after(words, i + 1)
            if found is not None and after is not None:
                return after
            found = found and replace(found, by_particle=True)
        else:
            continue
        if found is not None:
            return found
    return None


def _subject_before(words: list[tuple[str, str]], at: int) -> Attribution | None:
    """The subject that precedes the verb at ``at``: «وكانت وزارة الدفاع أعلنت», «وكان السفير … قد صرح»,
    «ولكن منظمة "ريتش إنيشيتيف"، التي تراقب…، قالت»."""
    end = at - 1 if at and words[at - 1][1] == "قد" else at
    for k in range(end - 1, max(-1, end - MAX_SUBJECT), -1):
        if words[k][1] in BEFORE:
            phrase = [w for w in words[k + 1 : end] if w[1] not in QUOTE_MARKS]
            return _named(phrase) if phrase and not any(_bare(f) in VERBS for _, f in phrase) else None
    if end and words[end - 1][1] in ("،", ","):
        for k in range(end - 2, max(-1, end - 3 * MAX_SUBJECT), -1):
            if words[k][1] in RELATIVES and k and words[k - 1][1] in ("،", ","):
                start = max((j + 1 for j in range(k - 1) if words[j][1] in {"،", ",", "ولكن", "لكن"}), default=0)
                phrase = [w for w in words[start : k - 1] if w[1] not in QUOTE_MARKS]
                return _named(phrase) if 0 < len(phrase) <= 6 else None
    return None


def _verb_after(words: list[tuple[str, str]], at: int) -> Attribution | None:
    """The attribution of a verb that follows a particle's phrase and a comma («وبحسب رويترز، قالت المؤسسة»)."""
    for j in range(at, min(len(words) - 1, at + 6)):
        if words[j][1] in ("،", ",") and _bare(words[j + 1][1]) in VERBS:
            found = _subject(words, j + 2, verb=_bare(words[j + 1][1]))
            return found if found is not None and not found.carried else None
    return None


def _bare(form: str) -> str:
    """A word without the و/ف that joins it to what came before («وقال» → قال)."""
    return form[1:] if len(form) > 3 and form[0] in "وف" and form[1:] in JOINABLE else form


def _after_ma(words: list[tuple[str, str]], i: int) -> bool:
    """«حسبما قال…», «وفق ما أعلنت…», «بحسب ما ذكرت…»: the verb follows a particle."""
    before = [f for _, f in words[max(0, i - 2) : i]]
    return bool(before) and (before[-1] in ("حسبما", "ما", "لما", "مما") or _bare(before[-1]) in PARTICLES)


def _skip_ma(words: list[tuple[str, str]], i: int, particle: str) -> int:
    """How many words after a particle to pass over before its subject: «ل», «ما» or «لما» and the verb after
    it («وفق ما نقلت رويترز», «وفقا لما نقلته وكالة الأناضول»), the verb after «حسبما»."""
    skip = 0
    while i + skip < len(words) and words[i + skip][1] in ("ل", "لـ"):
        skip += 1
    if i + skip < len(words) and words[i + skip][1] in ("ما", "لما"):
        skip += 2
    elif particle == "حسبما":
        skip += 1
    return skip


def _subject(words: list[tuple[str, str]], at: int, *, verb: str, particle: bool = False) -> Attribution | None:
    """The subject that starts at ``words[at]``, cut into name and title; a verb right before what was said has
    none (the speaker is carried from an earlier sentence)."""
    if verb in ("نقل", "نقلت") and not particle:
        return _after_an(words, at)  # «نقلت الصحيفة عن مسؤول…»; without عن, نقل is to move
    phrase: list[tuple[str, str]] = []
    quoted = False
    closed = False
    ended = True  # a boundary, or the sentence's end, closed the subject
    for original, form in words[at : at + MAX_SUBJECT_TOKENS]:
        if form in QUOTE_MARKS and (quoted or (phrase and phrase[-1][1] in NAMED_BY_QUOTES)):
            quoted, closed = not quoted, quoted
            continue
        if closed and not form.startswith(("ال", "لل")):
            break  # after «وكالة "أعماق"» only its adjectives: التابعة للتنظيم
        if not quoted and TANWEEN_FATH in original:
            break  # «تعقيباً»، «رداً»: how it was said
        if phrase and phrase[-1][1] in GROUP_HEADS and not _adjective(form):
            break
        role = len(phrase) <= 2 and bool(phrase) and phrase[0][1] in ROLE_HEADS and form in ("في", "من", "فى")
        leading = particle and not phrase and form.startswith("ل")  # «وفقاً لصحيفة…», «بحسب لجنة…»
        if not quoted and (
            form in QUOTE_MARKS or form in (":", "؛", ";") or (form in STOPS and not role and not leading)
        ):
            break
        to_whom = form.startswith("ل") and (form.startswith("لـ") or form[1:3] in TO_WHOM) or form in AUDIENCES
        if (phrase or not particle) and to_whom or (phrase and _bare(form) in VERBS):
            break  # «لوكالة الأنباء», «لصحيفة…», «لبي بي سي», «للصحفيين»: to whom it was said; «…، وقال»
        phrase.append((original, form))
    else:
        ended = at + MAX_SUBJECT_TOKENS >= len(words)
    if not ended:  # no end in sight: its head only
        phrase = [w for w in phrase[:MAX_SUBJECT] if w[1] not in ("،", ",")][:8]
    while phrase and phrase[-1][1] in ("،", ","):
        phrase.pop()
    if particle:
        phrase = _until_comma(phrase)
    if not phrase or (len(phrase) == 1 and phrase[0][1] in PRONOUNS):
        return None if particle else Attribution("", carried=True)
    if particle and phrase[0][1].startswith("لل"):
        phrase[0] = ("ال" + phrase[0][0][2:], "ال" + phrase[0][1][2:])  # «وفقاً للوكالة» → الوكالة
    elif particle and phrase[0][1].startswith("ل") and len(phrase[0][1]) > 3:
        phrase[0] = (phrase[0][0][1:], phrase[0][1][1:])  # «وفقاً لصحيفة» → صحيفة
    if phrase[0][1] in NOT_SOURCES:
        return None  # «وفقاً للتطورات»: not who said it
    if len(phrase) > 1 and phrase[0][1] in DOCUMENTS:
        phrase = phrase[1:]  # «بحسب توضيحات كولين غرين»: the speaker is who made them
        if len(phrase) > 1 and phrase[0][1].endswith(("ه", "ها")) and not phrase[0][1].startswith("ال"):
            phrase = phrase[1:]  # «بحسب تقرير أصدره مركز…», «بيان نشرته الوزارة»
    return _named(phrase)


def _until_comma(phrase: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A particle's phrase ends at its first comma unless a name follows it («بحسب توضيحات كولين غرين، رئيس…»:
    the title after it is kept)."""
    for k, (_, form) in enumerate(phrase):
        if form in ("،", ","):
            rest = phrase[k + 1 :]
            return phrase if rest and _titled(rest) and not _titled(phrase[:k]) else phrase[:k]
    return phrase


def _after_an(words: list[tuple[str, str]], at: int) -> Attribution | None:
    """«نقلت الصحيفة عن مسؤول كبير…»: who is quoted, after عن."""
    for j in range(at, min(len(words), at + 2 * MAX_SUBJECT)):
        if words[j][1] == "عن":
            return _subject(words, j + 1, verb="", particle=True)
    return None


def _named(phrase: list[tuple[str, str]]) -> Attribution:
    """A subject cut into name and title: the comma-parted piece without a title word, or the words after the
    title's last word that are not part of it («المتحدثة باسم البيت الأبيض سارة ساندرز»)."""
    parts: list[list[tuple[str, str]]] = [[]]
    for word in phrase:
        if word[1] in ("،", ","):
            parts.append([])
        else:
            parts[-1].append(word)
    parts = [p for p in parts if p]
    if len(parts) > 1:
        names = [p for p in parts if not _titled(p)]
        if names and len(names) < len(parts):
            name = names[0]
            return Attribution(_text(name), "، ".join(_text(p) for p in parts if p is not name) or None)
    words = [w for part in parts for w in part]
    if not _titled(words):
        return Attribution(_text(words))
    if words[0][1] not in TITLE_WORDS:  # «كريس سمالينغ مدافع مانشستر»: the name comes first
        cut = next(i for i, w in enumerate(words) if w[1] in TITLE_WORDS)
        return Attribution(_text(words[:cut]), _text(words[cut:]))
    if (len(words) == 2 and not words[0][1].startswith("ال")) or words[0][1] in ROLE_HEADS:
        return Attribution(_text(words))  # «مفتي أوغندا», «مسؤول كبير في الإدارة»: a role, nobody named
    name = _name_after_honorific(words) or _trailing_name(words)
    if not name:
        return Attribution(_text(words))
    title = [w for w in words if w not in name]
    return Attribution(_text(name), _text(title) or None)


def _titled(words: list[tuple[str, str]]) -> bool:
    return any(form in TITLE_WORDS for _, form in words)


def _name_after_honorific(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """«الدكتور سالم باعجاجة المحلل الاقتصادي»: the words without ال after a leading honorific."""
    if words[0][1] not in ("الدكتور", "الدكتوره", "د", "الشيخ", "المهندس", "الاستاذ"):
        return []
    run = []
    for word in words[1:]:
        if word[1].startswith("ال") and not (run and run[-1][1] in NAME_LINKS | {"عبد"}) and run:
            if len(run) >= 2:
                break
        if word[1] in TITLE_WORDS:
            break
        run.append(word)
    return run


def _trailing_name(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The name that ends a titled phrase: its last word (even with ال: القلاف، الجبير) when a word without ال
    stands before it, and the words without ال before that."""
    run: list[tuple[str, str]] = []
    for k in range(len(words) - 1, 0, -1):
        form = words[k][1]
        if form in TITLE_WORDS or form.startswith(("ب", "ل")) and form[1:3] == "ال":
            break
        if form.startswith("ال") and form not in NAME_LINKS:
            if run or not _bare_before(words, k):
                break
        run.insert(0, words[k])
    return run


def _bare_before(words: list[tuple[str, str]], k: int) -> bool:
    """Whether the word before ``k`` is a first name (no ال, not a title word: «عادل الجبير»), or a lone title
    before a family name («الوكيل القلاف»; not «الرئيس الأمريكي», whose ي makes it an adjective)."""
    form = words[k - 1][1]
    if k == 1 and form in TITLE_WORDS:
        return not words[k][1].endswith(("ي", "يه"))
    return not form.startswith("ال") and form not in TITLE_WORDS


def _adjective(form: str) -> bool:
    """A word that can describe a group: «الاقتصاديون», «الغربيين», «يمنية», «محليون»."""
    return form.endswith(("ي", "يه", "يون", "يين", "ين")) or (form.startswith("ال") and form.endswith(("ون", "ين")))


def _text(words: list[tuple[str, str]]) -> str:
    return re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", " ".join(original for original, _ in words)))
