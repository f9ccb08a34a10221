"""Vital signs stated in words: "temp 39.5", "104°F", "BP 180/110", "sats 88%", "tension 18/11"."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from dialogs.triage.models import VitalKind, VitalReading

_NUM = r"(\d{1,3}(?:[.,]\d{1,2})?)"
_GAP = r"[\s:=]*(?:(?:is|was|of|at|a|de|est|du|said|read|reads|showed|shows|indique|affiche|around|about|environ|vers|measured|mesuree?|reading|today|now|up|to|as|high|high as|jusqu|a|peaked|peaking|reached)\s+){0,3}[\s:=]*"

# A systolic/diastolic pair is unmistakable, so its words may sit further away.
_BP_GAP = r"[\s:=]*(?:[a-z]+\s+){0,5}?[\s:=]*"
_TEMP_WORDS = r"(?:temp(?:erature)?|fever|febrile|fievre|febrile|t|tc|t°|thermometer|thermometre)"
_BP_WORDS = r"(?:bp|blood pressure|pressure|tension|ta|pa|pression arterielle|tension arterielle)"
_HR_WORDS = r"(?:hr|heart rate|pulse|pulse rate|heartbeat|heart beat|pouls|fc|frequence cardiaque|rythme cardiaque|p)"
_SPO2_WORDS = (
    r"(?:spo2|sp02|sao2|sats?|o2|o2 sats?|o2 saturation|oxygen saturation|saturation|saturating|"
    r"oxygen(?: level)?|oxygene|oxymetre|oximeter|pulse ox|pulse oximetry|saturation en oxygene|satur[eé]e?)"
)
_RR_WORDS = r"(?:rr|resp(?:iratory)? rate|respirations?|breathing rate|fr|frequence respiratoire)"
_GLUCOSE_WORDS = r"(?:glucose|blood sugar|sugar|sugars|bg|bgl|cbg|glucometer|glycemie|glycaemia|glycemia|dextro|glucose level)"


# A number followed by "/80" is a pressure, "%" a saturation, "°" a temperature: not a rate.
_NOT_OTHER = r"(?!\s*(?:/\s*\d|%|°|[.,]\d))"


def _number(raw: str) -> float:
    return float(raw.replace(",", "."))


def _celsius(value: float, unit: str) -> float | None:
    unit = unit[-1] if unit and unit[-1] in "cf" else ""  # "degrees f" -> "f", "degrees" -> ""
    if unit == "f" or (not unit and 93 <= value <= 110):
        value = (value - 32) * 5 / 9
    return round(value, 1) if 30 <= value <= 45 else None


def _glucose_mg_dl(value: float, unit: str) -> float | None:
    unit = unit.replace(" ", "")
    if unit.startswith("mmol") or (not unit and value < 35):
        value *= 18.0  # 1 mmol/L glucose = 18.0 mg/dL
    elif unit.startswith("g/l") or (not unit and value < 4):
        value *= 100.0  # French g/L: 1 g/L = 100 mg/dL
    return round(value) if 10 <= value <= 1500 else None


Parser = Callable[[re.Match[str]], list[VitalReading]]


def _temp(m: re.Match[str]) -> list[VitalReading]:
    value = _celsius(_number(m.group("v")), (m.group("u") or "").replace("°", "").strip())
    return [VitalReading(VitalKind.TEMPERATURE, value)] if value is not None else []


def _bp(m: re.Match[str]) -> list[VitalReading]:
    sys_, dia = _number(m.group("s")), _number(m.group("d"))
    if sys_ < 30 and dia < 20:  # French "tension 18/11" is in cmHg
        sys_, dia = sys_ * 10, dia * 10
    if not (50 <= sys_ <= 300 and 20 <= dia <= 200 and sys_ > dia):
        return []
    return [VitalReading(VitalKind.SYSTOLIC_BP, sys_), VitalReading(VitalKind.DIASTOLIC_BP, dia)]


def _simple(kind: VitalKind, low: float, high: float) -> Parser:
    def parse(m: re.Match[str]) -> list[VitalReading]:
        value = _number(m.group("v"))
        return [VitalReading(kind, value)] if low <= value <= high else []

    return parse


def _glucose(m: re.Match[str]) -> list[VitalReading]:
    value = _glucose_mg_dl(_number(m.group("v")), (m.group("u") or "").strip())
    return [VitalReading(VitalKind.GLUCOSE, value)] if value is not None else []


_PATTERNS: tuple[tuple[re.Pattern[str], Parser], ...] = (
    (
        re.compile(
            rf"\b{_BP_WORDS}{_BP_GAP}(?P<s>\d{{1,3}})\s*(?:/|over|sur)\s*(?P<d>\d{{1,3}})\b"
            r"|\b(?P<s2>\d{2,3})\s*/\s*(?P<d2>\d{2,3})\s*(?:mm ?hg|mmhg)"
        ),
        lambda m: _bp_any(m),
    ),
    (
        re.compile(
            rf"\b{_TEMP_WORDS}{_GAP}(?P<v>\d{{2,3}}(?:[.,]\d)?)\s*(?P<u>°\s*[cf]?|degrees?\s*[cf]?|[cf]\b)?"
        ),
        _temp,
    ),
    (
        re.compile(r"(?P<v>\d{2,3}(?:[.,]\d)?)\s*(?P<u>°\s*[cf]?|degrees? [cf]|degres|deg [cf])"),
        _temp,
    ),
    (  # "39 de fièvre", "a 39.5 fever": a number just before the word
        re.compile(
            r"\b(?P<v>(?:3[5-9]|4[0-2])(?:[.,]\d)?)(?P<u>)\s+(?:de fievre|de temperature|fever|temperature)\b"
        ),
        _temp,
    ),
    (
        re.compile(rf"\b{_SPO2_WORDS}{_GAP}(?P<v>\d{{2,3}}(?:[.,]\d)?)\s*%?"),
        _simple(VitalKind.SPO2, 50, 100),
    ),
    (
        re.compile(
            r"(?P<v>\d{2,3})\s*%\s*(?:on|in|a l|en|sur)?\s*(?:room air|ra|air ambiant|aa)\b"
        ),
        _simple(VitalKind.SPO2, 50, 100),
    ),
    (
        re.compile(rf"\b{_HR_WORDS}{_GAP}(?P<v>\d{{2,3}})\b{_NOT_OTHER}"),
        _simple(VitalKind.HEART_RATE, 20, 250),
    ),
    (
        re.compile(r"(?P<v>\d{2,3})\s*(?:bpm|beats? (?:per|a|/) ?min\w*|battements)"),
        _simple(VitalKind.HEART_RATE, 20, 250),
    ),
    (
        re.compile(rf"\b{_RR_WORDS}{_GAP}(?P<v>\d{{1,2}})\b{_NOT_OTHER}"),
        _simple(VitalKind.RESPIRATORY_RATE, 4, 70),
    ),
    (
        re.compile(
            r"\bbreathing\s+(?:at\s+)?(?P<v>\d{1,2})\s+(?:times|breaths)\s+(?:a|per)\s+minute"
        ),
        _simple(VitalKind.RESPIRATORY_RATE, 4, 70),
    ),
    (
        re.compile(
            r"(?P<v>\d{1,2})\s*(?:breaths? (?:per|a|/) ?min\w*|respirations? (?:per|par|/) ?min\w*|cycles?/min)"
        ),
        _simple(VitalKind.RESPIRATORY_RATE, 4, 70),
    ),
    (  # "il a encore 38,6", "she had 39.2": a bare reading after a verb, unless a unit follows
        re.compile(
            r"\b(?:a|avait|encore|has|had|hit|reached|running)\s+(?P<v>(?:3[5-9]|4[0-2])[.,]\d)(?P<u>)(?![\d.,])"
            r"(?!\s*(?:kg|cm|mm|%|mmol|mg|ml|g\b|l\b|weeks?|semaines?|sa\b|ans?\b|years?|h\b|hours?|heures?|/))"
        ),
        _temp,
    ),
    (
        re.compile(
            rf"\b{_GLUCOSE_WORDS}{_GAP}(?P<v>\d{{1,4}}(?:[.,]\d{{1,2}})?)\s*(?P<u>mg ?/ ?dl|mmol(?: ?/ ?l)?|g ?/ ?l)?"
        ),
        _glucose,
    ),
)


def _bp_any(m: re.Match[str]) -> list[VitalReading]:
    if m.group("s") is None:
        s, d = m.group("s2"), m.group("d2")
        return _bp_values(s, d)
    return _bp(m)


def _bp_values(s: str, d: str) -> list[VitalReading]:
    sys_, dia = float(s), float(d)
    if not (50 <= sys_ <= 300 and 20 <= dia <= 200 and sys_ > dia):
        return []
    return [VitalReading(VitalKind.SYSTOLIC_BP, sys_), VitalReading(VitalKind.DIASTOLIC_BP, dia)]


def parse_vitals(text: str) -> list[VitalReading]:
    """Every vital sign stated in normalised TEXT, converted to the engine's units."""
    readings: list[VitalReading] = []
    # The spans already read, disjoint and sorted, so an overlap check is one bisection.
    starts: list[int] = []
    ends: list[int] = []
    for pattern, parse in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.start(), match.end()
            i = bisect_left(starts, end)
            if i > 0 and ends[i - 1] > start:
                continue
            values = parse(match)
            if values:
                readings.extend(values)
                starts.insert(i, start)
                ends.insert(i, end)
    return readings


_GCS = re.compile(
    r"\b(?:gcs|glasgow(?: coma)?(?: scale| score)?|score de glasgow)[\s:=]*(?:of|de|a|is|was)?\s*(?P<v>\d{1,2})\b"
)


def parse_gcs(text: str) -> int | None:
    """The lowest Glasgow Coma Scale score stated in normalised TEXT ("GCS 13"), if any."""
    scores = [int(m.group("v")) for m in _GCS.finditer(text) if 3 <= int(m.group("v")) <= 15]
    return min(scores) if scores else None
