"""The `Meetings` Protocol: a meeting per booked visit, with the patient's and the
provider's join links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from integrations.scheduling.models import SchedulerUnavailable


class MeetingUnavailable(SchedulerUnavailable):
    """The meetings backend did not give an existing meeting's join link just now (the
    visit itself stands; ask again later)."""


@dataclass(frozen=True)
class MeetingRequest:
    """What a meeting is made for: one visit's times and the two people who join it."""

    visit_key: str  # the appointment's id: one meeting per visit
    start: datetime
    end: datetime
    patient_name: str
    provider_name: str


@dataclass(frozen=True)
class Meeting:
    """A meeting: its id, the patient's join link and the provider's (moderator) link."""

    meeting_id: str
    patient_url: str
    provider_url: str


class Meetings(Protocol):
    """Creates and cancels the online meetings of visits."""

    async def create(self, request: MeetingRequest) -> Meeting:
        """A new meeting for REQUEST."""
        ...

    async def links(self, meeting_id: str, request: MeetingRequest) -> Meeting:
        """The join links of an existing meeting (made again or asked of the backend, never
        stored: no link is kept where the patient's record could show it);
        `MeetingUnavailable` when the backend does not answer."""
        ...

    async def cancel(self, meeting_id: str) -> None:
        """End the meeting (its links stop working where the backend allows it)."""
        ...
