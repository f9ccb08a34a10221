"""Teams online meetings through Graph (`CAREBOT_MEETINGS=teams`).

One meeting per visit, made with `createOrGet` keyed by the visit (`externalId`): Graph's
own look-up, so a retry after a lost reply gets the same meeting, never a second one. The
organizer is the clinic's mailbox (`CAREBOT_MAIL_FROM`); by Teams' default lobby, people
from outside the clinic's organisation (patients) wait there until admitted. Join links are asked of
Graph (and remembered in memory), never stored in the patient's record.
"""

from __future__ import annotations

from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.online_meetings.create_or_get.create_or_get_post_request_body import (
    CreateOrGetPostRequestBody,
)

from integrations.graph.client import GraphClient
from integrations.graph.retry_policy import GraphUnavailable, call_with_retry
from integrations.meetings.models import Meeting, MeetingRequest, MeetingUnavailable
from integrations.scheduling.models import SchedulerUnavailable


class TeamsMeetings:
    """`Meetings` as Teams online meetings organised by the clinic's mailbox."""

    def __init__(self, graph: GraphClient, organizer: str) -> None:
        self._meetings = graph.sdk.users.by_user_id(organizer).online_meetings
        self._urls: dict[str, str] = {}

    async def create(self, request: MeetingRequest) -> Meeting:
        """The visit's meeting, made once (createOrGet on the visit's key)."""
        body = CreateOrGetPostRequestBody(
            external_id=f"carebot-{request.visit_key}",
            start_date_time=request.start,
            end_date_time=request.end,
            subject="Virtual visit",
        )
        try:
            made = await call_with_retry(lambda: self._meetings.create_or_get.post(body))
        except (GraphUnavailable, ODataError):
            raise SchedulerUnavailable("Teams did not make the meeting") from None
        if made is None or not made.id or not made.join_web_url:
            raise SchedulerUnavailable("Teams returned no meeting")
        self._urls[made.id] = made.join_web_url
        return Meeting(made.id, made.join_web_url, made.join_web_url)

    async def links(self, meeting_id: str, request: MeetingRequest) -> Meeting:
        """The meeting's join link (the same for both: Teams' lobby tells them apart)."""
        url = self._urls.get(meeting_id)
        if url is None:
            try:
                found = await call_with_retry(
                    lambda: self._meetings.by_online_meeting_id(meeting_id).get()
                )
            except (GraphUnavailable, ODataError):  # down, throttled, or the meeting deleted
                raise MeetingUnavailable("Teams did not give the join link") from None
            if found is None or not found.join_web_url:
                raise MeetingUnavailable("Teams returned no join link")
            url = self._urls[meeting_id] = found.join_web_url
        return Meeting(meeting_id, url, url)

    async def cancel(self, meeting_id: str) -> None:
        """Delete the meeting (already gone: nothing to do)."""
        self._urls.pop(meeting_id, None)

        async def delete() -> None:
            try:
                await self._meetings.by_online_meeting_id(meeting_id).delete()
            except ODataError as error:
                if error.response_status_code != 404:
                    raise

        await call_with_retry(delete)
