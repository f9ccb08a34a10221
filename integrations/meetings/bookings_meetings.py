"""The Bookings appointment's own join link as the meeting (`CAREBOT_MEETINGS=bookings`,
with `CAREBOT_SCHEDULER=bookings`): Bookings makes the Teams meeting of an online
appointment itself, so there is nothing to create or delete here; cancelling the
appointment ends it."""

from __future__ import annotations

from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from integrations.graph.retry_policy import GraphUnavailable
from integrations.meetings.models import Meeting, MeetingRequest, MeetingUnavailable
from integrations.scheduling.bookings_scheduler import BookingsScheduler
from integrations.scheduling.models import SchedulerUnavailable


class BookingsMeetings:
    """`Meetings` read from the visit's Bookings appointment (`joinWebUrl`)."""

    def __init__(self, scheduler: BookingsScheduler) -> None:
        self._scheduler = scheduler
        self._urls: dict[str, str] = {}

    async def create(self, request: MeetingRequest) -> Meeting:
        """The meeting Bookings made with the visit's appointment."""
        bookings_id = await self._scheduler.bookings_id(request.visit_key)
        if bookings_id is None:
            raise SchedulerUnavailable("the visit has no Bookings appointment")
        return await self.links(bookings_id, request)

    async def links(self, meeting_id: str, request: MeetingRequest) -> Meeting:
        """The appointment's join link (the same for both sides)."""
        url = self._urls.get(meeting_id)
        if not url:
            try:
                url = await self._scheduler.join_url(meeting_id)
            except (GraphUnavailable, ODataError):
                raise MeetingUnavailable("Bookings did not give the join link") from None
        if not url:
            raise MeetingUnavailable("Bookings gave the appointment no join link")
        self._urls[meeting_id] = url
        return Meeting(meeting_id, url, url)

    async def cancel(self, meeting_id: str) -> None:
        """Nothing to call: cancelling the Bookings appointment ended its meeting."""
        self._urls.pop(meeting_id, None)
