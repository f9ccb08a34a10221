"""The values a scheduler hands out and the `Scheduler` Protocol every adapter follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class SlotTaken(Exception):
    """The slot was held or booked by someone else meanwhile (or the hold expired)."""


class SchedulerUnavailable(Exception):
    """An outside system (Bookings, Teams, Graph) did not carry out the request after
    retries; nothing was booked (or, for a cancel, nothing changed)."""


class SchedulingError(Exception):
    """The scheduler could not do what was asked (bad input, a record it cannot read)."""


@dataclass(frozen=True)
class OpenSlot:
    """A free slot of one provider: START and END are aware datetimes in UTC; ZONE is the
    provider's IANA time zone (mails to the provider are told in it)."""

    schedule: str  # "Schedule/id"
    practitioner: str  # "Practitioner/id"
    provider_name: str
    start: datetime
    end: datetime
    zone: str

    @property
    def key(self) -> str:
        """The slot's unique key: one schedule, one start."""
        return f"{self.schedule}|{self.start.strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Hold:
    """A slot held for one patient until EXPIRES; TOKEN proves the hold is ours."""

    slot: OpenSlot
    slot_id: str
    token: str
    expires: datetime


@dataclass(frozen=True)
class Booking:
    """A booked visit: the FHIR Appointment (always, whatever the scheduler) and its slot."""

    appointment_id: str
    slot: OpenSlot
    status: str = "booked"


class Scheduler(Protocol):
    """Free slots, holds and bookings of providers' virtual visits."""

    async def free_slots(self, start: datetime, end: datetime, limit: int = 20) -> list[OpenSlot]:
        """Free slots starting in [START, END), earliest first, at most LIMIT."""
        ...

    async def hold(self, slot: OpenSlot) -> Hold:
        """Hold SLOT for a while; `SlotTaken` when someone else holds or booked it."""
        ...

    async def release(self, hold: Hold) -> None:
        """Give a hold back (a refusal, a patient who left); nothing if it is not ours."""
        ...

    async def book(self, hold: Hold, patient: str, person: str | None) -> Booking:
        """Book the held slot for PATIENT (acting PERSON); `SlotTaken` if the hold was lost.
        Idempotent: booking the same hold again returns the same appointment."""
        ...

    async def cancel(self, appointment_id: str, patient: str, person: str | None) -> Booking:
        """Cancel PATIENT's appointment and free its slot."""
        ...
