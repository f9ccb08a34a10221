"""The typed results dialogs hand each other: a triage outcome, a vitals review, a language.

They cross dialogs within a turn as values. A dialog that keeps one across turns (booking
holds the triage outcome it was started with) stores it in its JSON state with `to_json` and
reads it back with `from_json`; nothing else turns them into dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from dialogs.base import JSON, Language
from dialogs.triage import Level, TriageResult

_BOOKABLE = (Level.CONSULTATION_24, Level.CONSULTATION)


class OutcomeFormatError(ValueError):
    """Stored outcome JSON that is not a triage outcome."""


@dataclass(frozen=True)
class TriageOutcome:
    """How a triage ended: the level, how soon to be seen, whether to book, and why."""

    level: Level
    reasons: tuple[str, ...] = ()
    red_flags: tuple[str, ...] = ()  # ids of the red-flag rules that fired
    findings: tuple[str, ...] = ()  # ids of the findings present
    emergency_number: str | None = None  # the number the patient was told to call
    interrupted: bool = False  # ended by the red-flag interrupt, not by the interview

    @property
    def window_hours(self) -> int | None:
        """How soon a clinician should see the patient; None when no visit is needed."""
        return self.level.window_hours

    @property
    def book(self) -> bool:
        """True when the outcome calls for a visit the patient can book."""
        return self.level in _BOOKABLE

    @classmethod
    def of(
        cls, result: TriageResult, emergency_number: str, *, interrupted: bool = False
    ) -> TriageOutcome:
        """The outcome of the engine's RESULT, told with the locale's EMERGENCY_NUMBER."""
        level = result.level
        return cls(
            level=level,
            reasons=tuple(r.text for r in result.reasons if r.level is level),
            red_flags=tuple(r.rule for r in result.red_flags),
            findings=tuple(f.id for f in result.findings if f.present),
            emergency_number=emergency_number if level.is_emergency else None,
            interrupted=interrupted,
        )

    def to_json(self) -> dict[str, JSON]:
        """The outcome as JSON, for a dialog's persisted state."""
        return {
            "level": self.level.value,
            "window_hours": self.window_hours,
            "book": self.book,
            "reasons": list(self.reasons),
            "red_flags": list(self.red_flags),
            "findings": list(self.findings),
            "emergency_number": self.emergency_number,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_json(cls, raw: JSON) -> TriageOutcome:
        """Read back what `to_json` wrote; anything else raises `OutcomeFormatError`."""
        if not isinstance(raw, dict):
            raise OutcomeFormatError("a triage outcome is a JSON object")
        try:
            level = Level(str(raw.get("level")))
        except ValueError:
            raise OutcomeFormatError("unknown triage level") from None
        number = raw.get("emergency_number")
        return cls(
            level=level,
            reasons=_strings(raw, "reasons"),
            red_flags=_strings(raw, "red_flags"),
            findings=_strings(raw, "findings"),
            emergency_number=number if isinstance(number, str) else None,
            interrupted=raw.get("interrupted") is True,
        )


def _strings(raw: Mapping[str, JSON], key: str) -> tuple[str, ...]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise OutcomeFormatError(f"{key} is a list of strings")
    return tuple(str(i) for i in items)


@dataclass(frozen=True)
class VitalsOutcome:
    """How a vitals review ended: what was shown, and the triage it led into, if any."""

    readings: int  # how many readings of the last 7 days were shown (0: none, or unreadable)
    attention: bool = False  # some recent reading was outside the normal range
    triage: TriageOutcome | None = None

    @property
    def book(self) -> bool:
        """True when the triage the review led into calls for a visit."""
        return self.triage is not None and self.triage.book


@dataclass(frozen=True)
class LanguageChosen:
    """The person chose a language (already stored)."""

    language: Language


Outcome: TypeAlias = TriageOutcome | VitalsOutcome | LanguageChosen


def triage_outcome_of(result: Outcome | None) -> TriageOutcome | None:
    """The triage outcome a child's RESULT carries, directly or through a vitals review."""
    if isinstance(result, TriageOutcome):
        return result
    if isinstance(result, VitalsOutcome):
        return result.triage
    return None
