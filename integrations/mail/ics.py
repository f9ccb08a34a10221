"""iCalendar invitations of visits (RFC 5545 via icalendar), pure."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress, vText

from integrations.mail.models import Attachment

PRODID = "-//carebot//virtual visits//EN"


def visit_invitation(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    organizer: str,
    attendee: str,
    location: str = "",
    cancelled: bool = False,
    sequence: int = 0,
    stamp: datetime | None = None,
) -> Attachment:
    """An `.ics` invitation (METHOD:REQUEST) or its cancellation (METHOD:CANCEL)."""
    method = "CANCEL" if cancelled else "REQUEST"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", (stamp or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    event.add("sequence", sequence)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if location:
        event["location"] = vText(location)
    event["organizer"] = vCalAddress(f"mailto:{organizer}")
    event.add("attendee", vCalAddress(f"mailto:{attendee}"))
    calendar.add_component(event)
    return Attachment("visit.ics", calendar.to_ical(), f"text/calendar; method={method}")
