"""What the triage and vitals dialogs need from outside: vitals to read, records to write.

Both are small Protocols so the dialogs run on fakes in tests and on the FHIR store in
production (`dialogs.fhir_evidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dialogs.base import DialogContext, Language
from dialogs.subject import Relative
from dialogs.triage.models import Patient, TriageResult, VitalReading


class VitalsSource(Protocol):
    """Recent device vital signs of a patient."""

    async def readings(
        self, patient: str, since: datetime, *, reader: str
    ) -> Sequence[VitalReading]:
        """Every reading of PATIENT ("Patient/123") taken at or after SINCE, newest first,
        read on behalf of READER (an account id: the record's audit names who read)."""
        ...


class PatientFactsSource(Protocol):
    """What the record says about a patient that triage needs: age, sex, pregnancy."""

    async def facts(self, patient: str, *, reader: str) -> Patient:
        """PATIENT's age, sex and recorded pregnancy (None where not recorded), read on
        behalf of READER (an account id, named in the audit)."""
        ...


@dataclass(frozen=True)
class InterviewItem:
    """One question of the interview and the patient's answer."""

    link_id: str
    question: str
    answer: str
    answer_yes: bool | None = None


@dataclass(frozen=True)
class TriageRecord:
    """A finished triage: the interview and its outcome, for the provider queue."""

    key: str  # idempotency key, unique per interview
    patient: str
    language: Language
    items: tuple[InterviewItem, ...]
    result: TriageResult
    time: datetime
    # Set when the conversation was about someone else (a child, a spouse): the outcome is
    # then a consultation about that relative, not the patient's own clinical record.
    relative: Relative | None = None


class TriageRecorder(Protocol):
    """Writes triage outcomes to the record (reads are audited where they are served)."""

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and the outcome (idempotent on `record.key`)."""
        ...


def record_key(ctx: DialogContext, now: datetime, what: str) -> str:
    """The idempotency key of a record started on this turn: the activity id when the channel
    gave one (a retried delivery carries the same id), else the time."""
    turn = ctx.input.activity_id or now.isoformat()
    return f"{ctx.person.account_id}/{turn}/{what}"


def latest_by_kind(readings: Sequence[VitalReading]) -> list[VitalReading]:
    """The newest reading of each kind (readings without a time count as oldest)."""
    best: dict[str, VitalReading] = {}
    for reading in readings:
        seen = best.get(reading.kind.value)
        if seen is None or _stamp(reading) > _stamp(seen):
            best[reading.kind.value] = reading
    return list(best.values())


def _stamp(reading: VitalReading) -> float:
    return reading.time.timestamp() if reading.time else float("-inf")
