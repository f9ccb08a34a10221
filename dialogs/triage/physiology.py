"""Physiology from vital signs and exam findings: qSOFA, shock index, capillary refill,
children's vital signs by age, and whether the patient is physiologically stable.

Pure: the thresholds are data (`vitals.yaml`, `physiology:`, each with a citation), the
readings come from the text and the devices. The result is a set of finding ids
(`phys.*`) that rules and conditions use like any other finding, so "sepsis" can weigh a
qSOFA of 2 and a rule can say "an emergency unless physiologically stable".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.triage.models import VitalKind, VitalReading

# The finding ids this module can set (the knowledge loader accepts them in rules).
PHYSIOLOGY_IDS = frozenset(
    {
        "phys.qsofa",
        "phys.shock_index",
        "phys.crt_prolonged",
        "phys.hypotension",
        "phys.hypoxia",
        "phys.child_red",
        "phys.child_amber",
        "phys.child_amber_2",
        "phys.stable",
    }
)


@dataclass(frozen=True)
class ChildBand:
    """Children's vital-sign limits for one age group (years, AGE_MIN <= age < AGE_MAX).

    `*_red` is a high-risk value, `*_amber` a moderate-to-high-risk one; a normal range
    (`hr_normal`, `rr_normal`) says what counts as stable for that age."""

    group: str
    age_min: float
    age_max: float
    rr_red: float
    rr_amber: float
    hr_red: float
    hr_amber: float
    hr_low: float
    hr_normal: tuple[float, float]
    rr_normal: tuple[float, float]
    sbp_low: float


@dataclass(frozen=True)
class PhysiologyLimits:
    """Every threshold physiology uses, read from `vitals.yaml`."""

    qsofa_rr: float
    qsofa_sbp: float
    qsofa_min: int
    shock_index: float
    shock_index_child: tuple[tuple[float, float, float], ...]  # (age_min, age_max, min SI)
    crt_prolonged_s: float
    hypotension_sbp: float
    hypoxia_spo2: float
    child_hypoxia_spo2: float
    child_bands: tuple[ChildBand, ...]
    adult_normal: Mapping[VitalKind, tuple[float, float]]
    stable_min_parameters: int
    cites: Mapping[str, str]


def _pair(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError(f"physiology {where}: needs [low, high]")
    return float(raw[0]), float(raw[1])


def physiology_limits(raw: Mapping[str, Any]) -> PhysiologyLimits:
    """The `physiology:` section of vitals.yaml as limits; a missing key is an error."""
    qsofa, si, crt = raw["qsofa"], raw["shock_index"], raw["capillary_refill"]
    children, adults, stable = raw["children"], raw["adults"], raw["stable"]
    bands = tuple(
        ChildBand(
            group=str(b["group"]),
            age_min=float(b["age_min"]),
            age_max=float(b["age_max"]),
            rr_red=float(b["rr_red"]),
            rr_amber=float(b["rr_amber"]),
            hr_red=float(b["hr_red"]),
            hr_amber=float(b["hr_amber"]),
            hr_low=float(b["hr_low"]),
            hr_normal=_pair(b["hr_normal"], b["group"]),
            rr_normal=_pair(b["rr_normal"], b["group"]),
            sbp_low=float(b["sbp_low"]),
        )
        for b in children["bands"]
    )
    return PhysiologyLimits(
        qsofa_rr=float(qsofa["rr_min"]),
        qsofa_sbp=float(qsofa["sbp_max"]),
        qsofa_min=int(qsofa["min_score"]),
        shock_index=float(si["adult_min"]),
        shock_index_child=tuple(
            (float(r["age_min"]), float(r["age_max"]), float(r["min"])) for r in si["children"]
        ),
        crt_prolonged_s=float(crt["prolonged_s"]),
        hypotension_sbp=float(adults["hypotension_sbp"]),
        hypoxia_spo2=float(adults["hypoxia_spo2"]),
        child_hypoxia_spo2=float(children["hypoxia_spo2"]),
        child_bands=bands,
        adult_normal={VitalKind(k): _pair(v, k) for k, v in adults["normal"].items()},
        stable_min_parameters=int(stable["min_parameters"]),
        cites={k: str(raw[k]["cite"]) for k in ("qsofa", "shock_index", "capillary_refill")}
        | {"children": str(children["cite"]), "adults": str(adults["cite"])},
    )


# "cap refill 4 s", "CRT < 2 seconds", "capillary refill time of 3s", "TRC 4 s",
# "temps de recoloration cutanée > 3 secondes" (normalised text: no accents, lower case).
_CRT = re.compile(
    r"\b(?:crt|cap(?:illary)? refill(?: time)?|trc|temps de recoloration(?: cutanee| capillaire)?)"
    r"[\s:=]*(?:(?:is|was|of|de|a|est|en|at|prolonged|allonge|delayed|centrally|about|around|environ)\s+){0,3}"
    r"(?P<cmp>[<>]|less than|more than|under|over|moins de|plus de)?"
    r"\s*(?P<v>\d{1,2}(?:[.,]\d)?)\s*(?:s\b|sec\w*|seconds?|secondes?)"
)
_MORE = {">", "more than", "over", "plus de"}


def parse_capillary_refill(text: str) -> float | None:
    """The longest capillary refill time stated in normalised TEXT, in seconds.

    "< 2 s" reads as a little under 2, "> 3 s" as a little over 3."""
    times: list[float] = []
    for m in _CRT.finditer(text):
        value = float(m.group("v").replace(",", "."))
        cmp = m.group("cmp")
        if cmp:
            value += 0.5 if cmp in _MORE else -0.5
        if 0 <= value <= 15:
            times.append(value)
    return max(times) if times else None


@dataclass(frozen=True)
class Physiology:
    """What the vital signs and exam findings say together."""

    ids: frozenset[str]
    qsofa: int | None  # None when no qSOFA part was measured
    shock_index: float | None
    capillary_refill_s: float | None
    parameters: int  # how many of HR, RR, SBP, SpO2, temperature were measured


def _worst(readings: Iterable[VitalReading]) -> dict[VitalKind, tuple[float, float]]:
    """The lowest and highest reading of each kind."""
    out: dict[VitalKind, tuple[float, float]] = {}
    for r in readings:
        low, high = out.get(r.kind, (r.value, r.value))
        out[r.kind] = (min(low, r.value), max(high, r.value))
    return out


def child_band(age_years: float | None, limits: PhysiologyLimits) -> ChildBand | None:
    """The children's band for AGE_YEARS, or None for an adult or an unknown age."""
    if age_years is None:
        return None
    return next((b for b in limits.child_bands if b.age_min <= age_years < b.age_max), None)


def shock_index_limit(age_years: float | None, limits: PhysiologyLimits) -> float | None:
    """The shock index at or above which the patient may be in shock (age-adjusted for
    children 4-16; none under 4, where the index is not validated)."""
    if age_years is None or age_years >= max(
        (hi for _, hi, _ in limits.shock_index_child), default=0
    ):
        return limits.shock_index
    return next((si for lo, hi, si in limits.shock_index_child if lo <= age_years < hi), None)


def _child_flags(
    band: ChildBand, worst: dict[VitalKind, tuple[float, float]], limits: PhysiologyLimits
) -> tuple[int, int]:
    """How many high-risk and moderate-risk values a child's vital signs show."""
    red = amber = 0
    if VitalKind.RESPIRATORY_RATE in worst:
        rr = worst[VitalKind.RESPIRATORY_RATE][1]
        red += rr >= band.rr_red
        amber += band.rr_amber <= rr < band.rr_red
    if VitalKind.HEART_RATE in worst:
        low, high = worst[VitalKind.HEART_RATE]
        red += high >= band.hr_red or low < band.hr_low
        amber += band.hr_amber <= high < band.hr_red
    if VitalKind.SYSTOLIC_BP in worst:
        red += worst[VitalKind.SYSTOLIC_BP][0] < band.sbp_low
    if VitalKind.SPO2 in worst:
        red += worst[VitalKind.SPO2][0] < limits.child_hypoxia_spo2
    return red, amber


def _normal(
    worst: dict[VitalKind, tuple[float, float]], band: ChildBand | None, limits: PhysiologyLimits
) -> bool:
    """True when every measured parameter sits in the normal range for the age."""
    ranges = dict(limits.adult_normal)
    if band is not None:
        ranges[VitalKind.HEART_RATE] = band.hr_normal
        ranges[VitalKind.RESPIRATORY_RATE] = band.rr_normal
        ranges.pop(VitalKind.SYSTOLIC_BP, None)  # judged by the band's lower limit below
        if VitalKind.SYSTOLIC_BP in worst and worst[VitalKind.SYSTOLIC_BP][0] < band.sbp_low:
            return False
    for kind, (low, high) in worst.items():
        normal = ranges.get(kind)
        if normal is not None and (low < normal[0] or high > normal[1]):
            return False
    return True


_MEASURED = (
    VitalKind.HEART_RATE,
    VitalKind.RESPIRATORY_RATE,
    VitalKind.SYSTOLIC_BP,
    VitalKind.SPO2,
    VitalKind.TEMPERATURE,
)


def assess_physiology(
    readings: Iterable[VitalReading],
    *,
    age_years: float | None,
    altered_mentation: bool,
    capillary_refill_s: float | None,
    limits: PhysiologyLimits,
) -> Physiology:
    """The physiology finding ids for READINGS (text and devices) at AGE_YEARS."""
    worst = _worst(readings)
    band = child_band(age_years, limits)
    ids: set[str] = set()
    sbp = worst.get(VitalKind.SYSTOLIC_BP, (None, None))[0]
    hr = worst.get(VitalKind.HEART_RATE, (None, None))[1]
    rr = worst.get(VitalKind.RESPIRATORY_RATE, (None, None))[1]
    spo2 = worst.get(VitalKind.SPO2, (None, None))[0]

    qsofa: int | None = None
    if band is None and (sbp is not None or rr is not None or altered_mentation):
        qsofa = (
            int(rr is not None and rr >= limits.qsofa_rr)
            + int(sbp is not None and sbp <= limits.qsofa_sbp)
            + int(altered_mentation)
        )
        if qsofa >= limits.qsofa_min:
            ids.add("phys.qsofa")

    index = round(hr / sbp, 2) if hr is not None and sbp else None
    limit = shock_index_limit(age_years, limits)
    if index is not None and limit is not None and index >= limit:
        ids.add("phys.shock_index")

    if capillary_refill_s is not None and capillary_refill_s >= limits.crt_prolonged_s:
        ids.add("phys.crt_prolonged")

    if band is None:
        if sbp is not None and sbp <= limits.hypotension_sbp:
            ids.add("phys.hypotension")
        if spo2 is not None and spo2 <= limits.hypoxia_spo2:
            ids.add("phys.hypoxia")
    else:
        red, amber = _child_flags(band, worst, limits)
        amber += "phys.crt_prolonged" in ids
        if sbp is not None and sbp < band.sbp_low:
            ids.add("phys.hypotension")
        if spo2 is not None and spo2 < limits.child_hypoxia_spo2:
            ids.add("phys.hypoxia")
        if red:
            ids.add("phys.child_red")
        if amber:
            ids.add("phys.child_amber")
        if amber >= 2:
            ids.add("phys.child_amber_2")

    parameters = sum(kind in worst for kind in _MEASURED)
    if (
        parameters >= limits.stable_min_parameters
        and not ids
        and not altered_mentation
        and _normal(worst, band, limits)
    ):
        ids.add("phys.stable")
    return Physiology(frozenset(ids), qsofa, index, capillary_refill_s, parameters)
