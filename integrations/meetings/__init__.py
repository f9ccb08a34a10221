"""Meeting links for virtual visits: the `Meetings` Protocol and its adapters (Jitsi)."""

from integrations.meetings.models import Meeting, MeetingRequest, Meetings

__all__ = ["Meeting", "MeetingRequest", "Meetings"]
