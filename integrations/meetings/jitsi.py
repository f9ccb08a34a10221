"""Jitsi Meet rooms (the embedded default): an unguessable room on a configurable base URL.

With a self-hosted Jitsi's JWT app id and secret configured, each link carries a signed
token (prosody's `token_verification`, HS256): the provider's as moderator (owner
affiliation), the patient's as a plain member, with the room's lobby on, so the patient
waits until the clinician lets them in. Without a secret the links are plain room URLs
(the public meet.jit.si needs none).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

import jwt

from integrations.meetings.models import Meeting, MeetingRequest

DEFAULT_JITSI_URL = "https://meet.jit.si"
# links work from a while before the visit until a while after its end
_EARLY = timedelta(minutes=30)
_LATE = timedelta(hours=2)


@dataclass(frozen=True)
class JitsiConfig:
    """The Jitsi deployment: base URL, and for signed links its JWT app id and secret."""

    base_url: str = DEFAULT_JITSI_URL
    app_id: str = ""
    secret: str = ""

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError(f"CAREBOT_JITSI_URL is not an http(s) URL: {self.base_url!r}")
        if bool(self.app_id) != bool(self.secret):
            raise ValueError("a Jitsi JWT needs both the app id and the secret")


def room_name() -> str:
    """An unguessable room name (128 random bits, URL-safe)."""
    return f"carebot-{secrets.token_urlsafe(16)}"


class JitsiMeetings:
    """`Meetings` on Jitsi Meet."""

    def __init__(self, config: JitsiConfig) -> None:
        self._config = config

    def _token(self, room: str, request: MeetingRequest, name: str, moderator: bool) -> str:
        config = self._config
        claims = {
            "aud": "jitsi",
            "iss": config.app_id,
            "sub": urlsplit(config.base_url).hostname or "*",
            "room": room,
            "nbf": int((request.start - _EARLY).timestamp()),
            "exp": int((request.end + _LATE).timestamp()),
            "context": {
                "user": {
                    "name": name,
                    "moderator": moderator,
                    "affiliation": "owner" if moderator else "member",
                },
                "room": {"lobby": True},
            },
        }
        return jwt.encode(claims, config.secret, algorithm="HS256")

    def _url(self, room: str, request: MeetingRequest, name: str, moderator: bool) -> str:
        url = f"{self._config.base_url.rstrip('/')}/{quote(room)}"
        if not self._config.secret:
            return url
        return f"{url}?jwt={self._token(room, request, name, moderator)}"

    async def create(self, request: MeetingRequest) -> Meeting:
        """A new room: nothing to call, Jitsi makes the room when the first person joins."""
        return await self.links(room_name(), request)

    async def links(self, meeting_id: str, request: MeetingRequest) -> Meeting:
        """The links of room MEETING_ID (signed afresh when a secret is configured)."""
        room = meeting_id
        return Meeting(
            meeting_id=room,
            patient_url=self._url(room, request, request.patient_name, moderator=False),
            provider_url=self._url(room, request, request.provider_name, moderator=True),
        )

    async def cancel(self, meeting_id: str) -> None:
        """Nothing to call: a Jitsi room exists only while people are in it; the link is
        removed from the visit (and a signed one expires)."""
