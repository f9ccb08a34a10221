"""Age, sex, pregnancy, duration and pain score stated in words, in English and French."""

from __future__ import annotations

import re

from dialogs.triage.models import Sex

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "few": 3, "several": 3,
    "couple": 2, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "sept": 7, "huit": 8, "dix": 10, "quelques": 3, "plusieurs": 3,
}  # fmt: skip
_NUM = r"(\d+(?:[.,]\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"

_UNIT_HOURS = {
    "minute": 1 / 60, "min": 1 / 60, "hour": 1, "hr": 1, "h": 1, "heure": 1, "day": 24,
    "jour": 24, "journee": 24, "night": 24, "nuit": 24, "week": 168, "semaine": 168,
    "month": 730, "mois": 730, "year": 8760, "an": 8760, "annee": 8760,
}  # fmt: skip
_UNIT = r"(minutes?|mins?|hours?|hrs?|h|heures?|days?|jours?|journees?|nights?|nuits?|weeks?|semaines?|months?|mois|years?|ans|annees?)"

_AGE = (
    re.compile(
        rf"\b{_NUM} ?(years?|yrs?|y|months?|mo|weeks?|wk|days?|ans?|mois|semaines?|jours?) ?(?:old|o\b|/o)"
    ),
    re.compile(
        rf"\b(?:aged?|age de|agee? de|i am|i m|im|he is|she is|he s|she s)\s+{_NUM}\s*(years?|yrs?|ans|months?|mois|weeks?|semaines?)?\b(?! ?(?:kg|lb|cm|%|°|pounds|weeks pregnant|days|jours|h|min|minutes|hours|heures))"
    ),
    re.compile(rf"\b(?:j ai|il a|elle a|a|de|aged)\s+{_NUM}\s+(ans|mois|semaines)\b"),
    re.compile(rf"\b{_NUM}\s?(yo|y o|yr old|ans|mois)\b"),
)
_NOT_AGE = re.compile(
    r"\s*(?:weeks?\s+)?(?:pregnan|enceinte|gestation|d amenorrhee|sa\b|of pregnancy|de grossesse)"
)
_DURATION_BEFORE = re.compile(
    r"(?:depuis|pendant|il y a|il y|ca fait|for|since|over|past|last|about|durant|enceinte|enceinte de|grossesse de|pregnant)\s+(?:(?:the|about|environ|plus de|more than)\s+)?$"
)
_NOT_SYMPTOM = re.compile(
    r"\b(?:smok\w*|diabet\w*|married|worked|working|lived|living|taking|taken|using|been on|drink\w*|fume\w*|diabetique|marie\w*|travaille|vit|stopped|started on|quit|switched|prescribed|arrete|arrete son|commence)\s+(?:\w+\s+){0,2}$"
)
_DURATION = re.compile(
    rf"\b(?:for|since|past|last|over|x|depuis|pendant|il y a|ca fait|durant|lasted|lasting|ongoing for|about|the last|the past)\s+(?:the\s+|about\s+|environ\s+|almost\s+|nearly\s+|over\s+|more than\s+|plus de\s+|a\s+)?{_NUM}?\s*{_UNIT}\b"
    rf"|\b{_NUM}\s*{_UNIT}\s+(?:ago|history|duration|now|in a row|of)\b"
)
_SINCE_WORDS = {
    "yesterday": 24, "hier": 24, "last night": 12, "cette nuit": 12, "this morning": 6,
    "ce matin": 6, "today": 6, "aujourd hui": 6, "tonight": 3, "ce soir": 3, "an hour ago": 1,
    "avant hier": 48, "day before yesterday": 48, "last week": 168, "la semaine derniere": 168,
    "des annees": 8760, "des mois": 1460, "years": 8760, "months": 1460,
}  # fmt: skip
_SINCE = re.compile(
    r"\b(?:since|depuis|started|began|commence|a commence|for)\s+(?:\w+\s+)?("
    + "|".join(_SINCE_WORDS)
    + r")\b"
)
# Look-behind checks read this many characters back, never the whole text (linear time).
_LOOKBACK = 80
_PAIN_SCORE = re.compile(r"\b(\d{1,2})\s*(?:/|out of|sur)\s*10\b")

_FEMALE = re.compile(
    r"\b(?:woman|women|female|girl|lady|mother|mom|mum|wife|daughter|she|her|femme|fille|madame|mme|"
    r"patiente|mere|elle|epouse|enceinte|pregnant|sister|soeur|grandmother|grand mere|fillette)\b"
)
_MALE = re.compile(
    r"\b(?:man|men|male|boy|gentleman|father|dad|husband|son|he|his|him|homme|garcon|monsieur|mr|"
    r"pere|il|mari|fils|brother|frere|grandfather|grand pere)\b"
)
_DECADES = {"twenties": 25, "thirties": 35, "forties": 45, "fifties": 55, "sixties": 65,
            "seventies": 75, "eighties": 85, "nineties": 95, "vingtaine": 25, "trentaine": 35,
            "quarantaine": 45, "cinquantaine": 55, "soixantaine": 65, "septuagenaire": 75,
            "octogenaire": 85, "nonagenaire": 95}  # fmt: skip
_DECADE = re.compile(
    r"\bin (?:his|her|their|my) (?:early |mid |late )?(?:(\d)0 ?s|(" + "|".join(_DECADES) + r"))\b"
    r"|\b(?:la |une |un )(" + "|".join(_DECADES) + r")\b"
)
_AGE_NOUNS = (
    (
        re.compile(
            r"\b(?:elderly|older (?:man|woman|lady|gentleman|person)|grand(?:mother|father|ma|pa)|granny|grandad|nursing home|personne agee|grand mere|grand pere|agee|tres age)\b"
        ),
        75.0,
    ),
    (re.compile(r"\b(?:teen|teenager|teenage|adolescent|adolescente|high school)\b"), 15.0),
    (re.compile(r"\b(?:middle aged|d age moyen)\b"), 50.0),
)
# In a pregnancy, "the baby" is the fetus, not the patient.
_PREGNANCY = re.compile(r"\b(?:pregnan\w*|enceinte|grossesse|gestation)\b")
# A woman "at 30 weeks", "at 38+2 weeks", "a 32 SA": a gestation stated without the word.
_GESTATION = re.compile(
    r"\b(?:at|a)\s+(?P<w>\d{1,2})(?:\s*\+\s*\d)?\s*(?:weeks?|wks?|sa|semaines d amenorrhee)\b"
    r"(?!\s*(?:ago|old|of age|of life|after|post|since|de vie|apres))"
)
_GESTATION_WEEKS = (4, 42)
_CHILD_NOUNS = (
    (re.compile(r"\b(?:newborn|new born|neonate|nouveau ne)\b"), 0.05),
    (re.compile(r"\b(?:baby|bebe|infant|nourrisson)\b"), 0.5),
    (
        re.compile(
            r"\b(?:toddler|child|kid|enfant|little boy|little girl|petit garcon|petite fille)\b"
        ),
        5.0,
    ),
)


def _num(raw: str) -> float:
    return (
        float(_NUMBER_WORDS.get(raw, 0)) if raw in _NUMBER_WORDS else float(raw.replace(",", "."))
    )


def _years(value: float, unit: str | None) -> float:
    unit = (unit or "y").strip()
    if unit.startswith(("mo", "mois")):
        return value / 12
    if unit.startswith(("w", "sem", "wk")):
        return value / 52
    if unit.startswith(("d", "j")):
        return value / 365
    return value


def parse_age(text: str) -> float | None:
    """The patient's age in years, if stated."""
    for pattern in _AGE:
        for m in pattern.finditer(text):
            before = text[max(0, m.start() - _LOOKBACK) : m.start()]
            if _NOT_AGE.match(text, m.end()) or _DURATION_BEFORE.search(before):
                continue
            unit = m.group(2) if m.lastindex and m.lastindex >= 2 else None
            if unit is None and m.group(1) in ("a", "an", "few", "several", "couple"):
                continue  # "i m a bit worried" is no age
            age = _years(_num(m.group(1)), unit)
            if 0 <= age <= 120:
                return round(age, 3)
    decade = _DECADE.search(text)
    if decade:
        if decade.group(1):
            return float(decade.group(1)) * 10 + 5
        return float(_DECADES[decade.group(2) or decade.group(3)])
    nouns = (
        _AGE_NOUNS
        if _PREGNANCY.search(text) or states_gestation(text)
        else (*_CHILD_NOUNS, *_AGE_NOUNS)
    )
    for pattern, years in nouns:
        if pattern.search(text):
            return years
    return None


def parse_sex(text: str) -> Sex | None:
    """The patient's sex from the first nouns and pronouns that give it."""
    female, male = _FEMALE.search(text), _MALE.search(text)
    if female and (not male or female.start() < male.start()):
        return Sex.FEMALE
    return Sex.MALE if male else None


def _unit_hours(unit: str) -> float:
    unit = unit.rstrip("s") if unit not in ("mois", "ans") else unit
    if unit == "ans":
        unit = "an"
    return _UNIT_HOURS.get(unit, _UNIT_HOURS.get(unit.rstrip("e"), 24))


def parse_duration_hours(text: str) -> float | None:
    """How long the problem has lasted, the longest stated span, in hours."""
    spans: list[float] = []
    # "at 10 weeks of pregnancy", "28 weeks pregnant": the week of pregnancy, not a duration.
    gestation = [g.span() for p in (_WEEKS_PREGNANT, _GESTATION) for g in p.finditer(text)]
    for m in _DURATION.finditer(text):
        if _NOT_SYMPTOM.search(text[max(0, m.start() - _LOOKBACK) : m.start()]):
            continue  # "smoked for 30 years", "diabetic for 10 years": not the illness
        if any(a < m.end() and m.start() < b for a, b in gestation):
            continue
        raw_num = m.group(1) or m.group(3)
        unit = m.group(2) or m.group(4)
        spans.append((_num(raw_num) if raw_num else 1.0) * _unit_hours(unit))
    for m in _SINCE.finditer(text):
        spans.append(float(_SINCE_WORDS[m.group(1)]))
    return max(spans) if spans else None


def parse_pain_score(text: str) -> int | None:
    """A pain score out of ten, if stated."""
    scores = [int(m.group(1)) for m in _PAIN_SCORE.finditer(text) if int(m.group(1)) <= 10]
    return max(scores) if scores else None


# "My son has a fever", "ma fille a de la fièvre", "I'm worried about my husband": the person
# unwell is not the one writing, so the writer's record (age, sex) does not describe them.
_OTHER_PERSON = re.compile(
    r"\b(?:my|our|mon|ma|notre|mes)\s+(?:(?:little|baby|newborn|toddler|teenage|elderly|old|"
    r"petit|petite|jeune|vieux|vieille)\s+)?(?:son|daughter|baby|child|kid|boy|girl|toddler|infant|"
    r"newborn|husband|wife|partner|boyfriend|girlfriend|mother|mum|mom|father|dad|"
    r"grandmother|grandfather|gran|granny|grandma|grandpa|grandad|brother|sister|friend|neighbour|"
    r"neighbor|flatmate|roommate|colleague|patient|fils|fille|bebe|enfant|garcon|mari|femme|conjoint|"
    r"conjointe|compagnon|compagne|mere|pere|maman|papa|grand mere|grand pere|frere|soeur|ami|amie|"
    r"voisin|voisine|collegue)\b"
)
_THIRD_PERSON_NOTE = re.compile(
    r"^\W*(?:an?|the|this|our)\s+(?:\d+|\w+)[\s-]*(?:year|month|week|day)s?[\s-]*old\b"
    r"|^\W*(?:un|une)\s+(?:homme|femme|garcon|fille|enfant|bebe|nourrisson|patient|patiente)\b"
    r"|^\W*(?:homme|femme|garcon|fille|enfant|bebe|nourrisson|patient|patiente)\s+de\s+\d+"
    r"|^\W*(?:an?|the)\s+(?:man|woman|boy|girl|child|baby|infant|patient|gentleman|lady)\b"
)
_FIRST_PERSON = re.compile(r"\b(?:i|i m|i ve|me|je|j ai|j|moi)\b")
_SUBJECT_WINDOW = 200  # the subject is told at the start of a message


def about_someone_else(text: str) -> bool:
    """True when normalised TEXT describes someone other than the writer (a relative, a
    patient in a clinical note), so the writer's own record must not give the age or sex."""
    head = text[:_SUBJECT_WINDOW]
    if _THIRD_PERSON_NOTE.search(head):
        return True
    other = _OTHER_PERSON.search(head)
    if other is None:
        return False
    first = _FIRST_PERSON.search(head)
    # "I have chest pain and my wife..." is about the writer; "my son has ... I think" is not.
    return first is None or other.start() < first.start() or _ABOUT.search(head) is not None


_ABOUT = re.compile(
    r"\b(?:worried about|concerned about|calling about|asking for|asking about|for my|"
    r"inquiet pour|inquiete pour|pour mon|pour ma|au sujet de)\s+(?:my|mon|ma|our|notre)\b"
)


_WEEKS_PREGNANT = re.compile(
    r"\b(?P<w>\d{1,2})(?:\s*\+\s*\d)?\s*(?:weeks?|wks?)\s*(?:s\s+)?"
    r"(?:pregnant|gestation|of gestation|of pregnancy|of her pregnancy|of my pregnancy"
    r"|into (?:my|her|the) pregnancy)\b"
    r"|\benceinte de (?P<f>\d{1,2})\s*(?:semaines?|sa)\b"
    r"|\b(?P<s>\d{1,2})\s*(?:sa|semaines d amenorrhee)\b"
)


def gestation_weeks(text: str) -> int | None:
    """The week of pregnancy normalised TEXT states ("20 weeks pregnant", "at 14 weeks",
    "enceinte de 10 semaines"), or None."""
    low, high = _GESTATION_WEEKS
    for pattern in (_WEEKS_PREGNANT, _GESTATION):
        for m in pattern.finditer(text):
            weeks = int(next(g for g in m.groups() if g is not None))
            if low <= weeks <= high:
                return weeks
    return None


def states_gestation(text: str) -> bool:
    """True when normalised TEXT gives a week of pregnancy without naming it ("at 30 weeks")."""
    low, high = _GESTATION_WEEKS
    return any(low <= int(m.group("w")) <= high for m in _GESTATION.finditer(text))
