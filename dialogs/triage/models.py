"""Values the triage engine takes and returns; all frozen, all JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dialogs.triage.levels import Level


class VitalKind(StrEnum):
    """The vital signs the engine judges, with their LOINC codes (DESIGN.md)."""

    SPO2 = "spo2"
    HEART_RATE = "heart_rate"
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    TEMPERATURE = "temperature"
    RESPIRATORY_RATE = "respiratory_rate"
    GLUCOSE = "glucose"
    WEIGHT = "weight"  # shown with the vitals; no band judges it

    @property
    def loinc(self) -> str:
        """The LOINC code of the R4 vital-signs profile."""
        return _LOINC[self]

    @property
    def unit(self) -> str:
        """The UCUM unit the engine works in."""
        return _UNIT[self]


_LOINC = {
    VitalKind.SPO2: "2708-6",  # the oxygensat profile's code (59408-5 is also accepted)
    VitalKind.HEART_RATE: "8867-4",
    VitalKind.SYSTOLIC_BP: "8480-6",
    VitalKind.DIASTOLIC_BP: "8462-4",
    VitalKind.TEMPERATURE: "8310-5",
    VitalKind.RESPIRATORY_RATE: "9279-1",
    VitalKind.GLUCOSE: "2339-0",
    VitalKind.WEIGHT: "29463-7",
}

_UNIT = {
    VitalKind.SPO2: "%",
    VitalKind.HEART_RATE: "/min",
    VitalKind.SYSTOLIC_BP: "mm[Hg]",
    VitalKind.DIASTOLIC_BP: "mm[Hg]",
    VitalKind.TEMPERATURE: "Cel",
    VitalKind.RESPIRATORY_RATE: "/min",
    VitalKind.GLUCOSE: "mg/dL",
    VitalKind.WEIGHT: "kg",
}


class Sex(StrEnum):
    """Sex as stated in the text or the record."""

    FEMALE = "female"
    MALE = "male"


@dataclass(frozen=True)
class VitalReading:
    """One vital sign value in the engine's unit, from the text or a device."""

    kind: VitalKind
    value: float
    source: str = "text"  # "text" or a device name
    time: datetime | None = None


@dataclass(frozen=True)
class Patient:
    """What is known about the patient beyond the text (from the record)."""

    age_years: float | None = None
    sex: Sex | None = None
    pregnant: bool | None = None
    # True when these facts come from the writer's own record (the signed-in patient): they
    # are then left out when the text is about someone else ("my son has a fever").
    from_writer_record: bool = False


@dataclass(frozen=True)
class Finding:
    """One piece of evidence: a symptom present or absent, a vital, a context fact."""

    id: str
    name: str
    present: bool = True
    snomed: str | None = None
    evidence: str = ""  # the words or reading it came from


@dataclass(frozen=True)
class Reason:
    """One fired rule: why the engine chose (at least) LEVEL."""

    rule: str
    level: Level
    text: str
    red_flag: bool = False
    citation: str = ""


@dataclass(frozen=True)
class Context:
    """Modifiers read from the text and the record."""

    age_years: float | None = None
    sex: Sex | None = None
    pregnant: bool = False
    duration_hours: float | None = None
    sudden_onset: bool = False
    severity: str | None = None  # "mild", "moderate", "severe"
    pain_score: int | None = None
    # The text is about someone other than the writer ("my son has a fever", a clinical note):
    # a record marked `from_writer_record` gave no age or sex, so the interview asks for them.
    about_someone_else: bool = False


@dataclass(frozen=True)
class ConditionView:
    """One candidate condition as the result reports it."""

    id: str
    name: str
    level: Level
    likelihood: float
    threshold: float
    passes: bool
    found_for: tuple[str, ...] = ()
    found_against: tuple[str, ...] = ()
    citation: str = ""


@dataclass(frozen=True)
class TriageResult:
    """The engine's answer: a level with the reasons, red flags and findings behind it."""

    level: Level
    reasons: tuple[Reason, ...]
    findings: tuple[Finding, ...]
    vitals: tuple[VitalReading, ...] = ()
    context: Context = field(default_factory=Context)
    # The candidate conditions weighed, most urgent and most likely first (ConditionHit).
    conditions: tuple[ConditionView, ...] = ()
    # Self-care held up by passing self-limiting conditions that account for every complaint
    # (and no condition above self-care passing): the reasoner's "nothing worrying" call.
    self_limiting: bool = False

    @property
    def red_flags(self) -> tuple[Reason, ...]:
        """The fired rules that are red flags: marked so, or at an emergency level."""
        return tuple(r for r in self.reasons if r.red_flag or r.level.is_emergency)

    @property
    def present_ids(self) -> frozenset[str]:
        """Ids of the findings that are present."""
        return frozenset(f.id for f in self.findings if f.present)
