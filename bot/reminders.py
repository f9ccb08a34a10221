"""Visit reminders: a worker finds booked visits whose reminder is due (default 24 h and
1 h before) and puts one outbox item per visit and lead time (keyed, so a rescan or a
restart adds nothing); its handler, at delivery, checks the visit is still booked and has
an active Consent, mails it with the link, records a Communication, and queues the chat
message (the proactive seam picks Teams or the portal from the stored reference)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.appointment import Appointment

from bot.proactive import ChatMessage
from integrations.fhir.access import FhirAccess
from integrations.fhir.search import SearchQuery
from integrations.persistence.outbox import (
    ClaimedItem,
    Outbox,
    OutboxItem,
    PermanentDeliveryError,
)
from integrations.visits.service import VisitService, visit_of

REMINDER = "visit-reminder"
DEFAULT_LEADS = (timedelta(hours=24), timedelta(hours=1))


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_leads(start: datetime, now: datetime, leads: Sequence[timedelta]) -> list[timedelta]:
    """The lead time whose reminder is due at NOW for a visit at START (pure): the nearest
    one only, so a service that was down at the 24 h mark sends one reminder, not two."""
    due = [lead for lead in leads if start - lead <= now < start]
    return [min(due)] if due else []


class ReminderScanner:
    """Puts due reminders in the outbox."""

    def __init__(
        self,
        fhir: FhirAccess,
        outbox: Outbox,
        *,
        leads: Sequence[timedelta] = DEFAULT_LEADS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notify: Callable[[], None] = lambda: None,
        interval_s: float = 60.0,
        page_size: int = 200,
    ) -> None:
        self._system = fhir.system()
        self._page_size = page_size
        self._outbox = outbox
        self._leads = tuple(leads)
        self._clock = clock
        self._notify = notify
        self._interval = interval_s

    async def scan_once(self) -> int:
        """Enqueue the reminders due now; how many were new."""
        now = self._clock()
        query = (
            SearchQuery(Appointment)
            .where(
                status="booked",
                date=[f"ge{_instant(now)}", f"lt{_instant(now + max(self._leads))}"],
            )
            .count(500)
        )
        added = 0
        # every page: a clinic's day may hold more visits than one page
        entries = [
            entry
            async for page in self._system.search_pages_json(query, max_pages=1000)
            for entry in page.get("entry") or []
        ]
        for entry in entries:
            appointment = entry.get("resource") or {}
            visit = visit_of(appointment)
            patients = [
                str(p["actor"]["reference"]) for p in appointment.get("participant") or []
                if str(p.get("actor", {}).get("reference", "")).startswith("Patient/")
            ]  # fmt: skip
            for lead in due_leads(visit.start, now, self._leads):
                for patient in patients:
                    key = f"reminder/{visit.appointment_id}/{int(lead.total_seconds() // 60)}m"
                    payload = json.dumps({"appointment": visit.appointment_id, "patient": patient})
                    added += await self._outbox.enqueue(OutboxItem(key, REMINDER, payload))
        if added:
            self._notify()
        return added

    async def run(self) -> None:
        """Scan until cancelled."""
        while True:
            await self.scan_once()
            await asyncio.sleep(self._interval)


class ReminderHandler:
    """Delivers `visit-reminder` items: mail + Communication now, the chat through the outbox."""

    def __init__(
        self,
        visits: VisitService,
        outbox: Outbox,
        notify: Callable[[], None],
        *,
        link_attempts: int = 3,
    ) -> None:
        self._visits = visits
        self._outbox = outbox
        self._notify = notify
        self._link_attempts = link_attempts  # then the reminder goes out saying there is none

    async def deliver(self, item: ClaimedItem) -> None:
        """Send the reminder, unless the visit was cancelled or has no consent meanwhile."""
        try:
            data = json.loads(item.payload)
            appointment, patient = str(data["appointment"]), str(data["patient"])
        except (ValueError, KeyError, TypeError):
            raise PermanentDeliveryError("not a reminder payload") from None
        # no link from the meetings backend: the outbox tries again (MeetingUnavailable);
        # the last try tells the patient plainly instead of staying silent
        last_try = item.attempt >= self._link_attempts
        reminder = await self._visits.remind(appointment, patient, item.key, last_try=last_try)
        if reminder is None or reminder.account_id is None:
            return  # cancelled, started, no consent, or no chat account: nothing (more) to send
        await self._outbox.enqueue(ChatMessage(reminder.account_id, reminder.text).to_item(
            f"{item.key}/chat"))  # fmt: skip
        self._notify()
