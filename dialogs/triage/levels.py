"""The five triage levels of DESIGN.md, most urgent first, with their care windows."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """A triage outcome (the Infermedica / Azure Health Bot vocabulary)."""

    EMERGENCY_AMBULANCE = "emergency_ambulance"
    EMERGENCY = "emergency"
    CONSULTATION_24 = "consultation_24"
    CONSULTATION = "consultation"
    SELF_CARE = "self_care"

    @property
    def rank(self) -> int:
        """Urgency: 4 for emergency_ambulance down to 0 for self_care."""
        return _RANK[self]

    @property
    def is_emergency(self) -> bool:
        """True for the two emergency levels."""
        return self.rank >= _RANK[Level.EMERGENCY]

    @property
    def window_hours(self) -> int | None:
        """How soon a clinician should see the patient; None when no visit is needed."""
        return _WINDOW_HOURS[self]


_RANK = {
    Level.EMERGENCY_AMBULANCE: 4,
    Level.EMERGENCY: 3,
    Level.CONSULTATION_24: 2,
    Level.CONSULTATION: 1,
    Level.SELF_CARE: 0,
}

# consultation_24 means within 24 hours (issue 5); a routine consultation within two weeks.
_WINDOW_HOURS: dict[Level, int | None] = {
    Level.EMERGENCY_AMBULANCE: 0,
    Level.EMERGENCY: 0,
    Level.CONSULTATION_24: 24,
    Level.CONSULTATION: 24 * 14,
    Level.SELF_CARE: None,
}


def most_urgent(levels: list[Level] | tuple[Level, ...], default: Level) -> Level:
    """The most urgent of LEVELS, or DEFAULT when there are none."""
    return max(levels, key=lambda level: level.rank, default=default)
