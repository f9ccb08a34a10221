"""Jitsi links (unguessable rooms, JWT-signed with a lobby when a secret is set), `.eml`
files with an `.ics`, and SMTP against a local aiosmtpd server."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import jwt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar

from integrations.mail.file_mail import FileMail
from integrations.mail.ics import visit_invitation
from integrations.mail.models import MailError, MailMessage
from integrations.mail.smtp_mail import SmtpConfig, SmtpMail
from integrations.meetings.jitsi import JitsiConfig, JitsiMeetings
from integrations.meetings.models import MeetingRequest

START = datetime(2026, 12, 11, 13, 0, tzinfo=UTC)
REQUEST = MeetingRequest("appt-1", START, START + timedelta(minutes=30), "Alice", "Dr Chen")
SECRET = "jitsi-secret-" + "j" * 32


async def test_jitsi_rooms_are_unguessable_and_on_the_configured_base() -> None:
    meetings = JitsiMeetings(JitsiConfig("https://video.clinic.example"))
    rooms = {(await meetings.create(REQUEST)).meeting_id for _ in range(200)}
    assert len(rooms) == 200
    meeting = await meetings.create(REQUEST)
    room = meeting.meeting_id
    assert len(room.removeprefix("carebot-")) >= 22  # 128 random bits
    assert meeting.patient_url == meeting.provider_url == f"https://video.clinic.example/{room}"
    assert await meetings.links(room, REQUEST) == meeting  # made again, the same


async def test_with_a_secret_links_are_signed_the_provider_moderates_and_the_lobby_is_on() -> None:
    meetings = JitsiMeetings(JitsiConfig("https://video.clinic.example", "carebot", SECRET))
    meeting = await meetings.create(REQUEST)
    tokens = {}
    for side, url in (("patient", meeting.patient_url), ("provider", meeting.provider_url)):
        base, _, token = url.partition("?jwt=")
        assert base == f"https://video.clinic.example/{meeting.meeting_id}"
        tokens[side] = jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi",
                                  options={"verify_nbf": False, "verify_exp": False})  # fmt: skip
    patient, provider = tokens["patient"], tokens["provider"]
    assert patient["room"] == provider["room"] == meeting.meeting_id
    assert patient["iss"] == "carebot" and patient["sub"] == "video.clinic.example"
    assert provider["context"]["user"] == {"name": "Dr Chen", "moderator": True,
                                           "affiliation": "owner"}  # fmt: skip
    assert patient["context"]["user"]["moderator"] is False
    assert patient["context"]["room"] == {"lobby": True}
    assert patient["exp"] == int((START + timedelta(minutes=30, hours=2)).timestamp())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(meeting.patient_url.partition("?jwt=")[2], "another-secret-" + "x" * 32,
                   algorithms=["HS256"], audience="jitsi")  # fmt: skip


def test_bad_jitsi_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="CAREBOT_JITSI_URL"):
        JitsiConfig("meet.jit.si")
    with pytest.raises(ValueError, match="both"):
        JitsiConfig("https://meet.jit.si", app_id="carebot")


def _message(to: str = "alice@example.org") -> MailMessage:
    invitation = visit_invitation(
        uid="appt-1@carebot", start=START, end=START + timedelta(minutes=30),
        summary="Your virtual visit", description="Join: https://meet.example/x",
        organizer="clinic@example.org", attendee="alice@example.org", location="https://meet.example/x",
        stamp=START - timedelta(days=1),
    )  # fmt: skip
    return MailMessage("visit/appt-1/confirmed/patient", to, "Your virtual visit",
                       "Your visit is booked.", (invitation,))  # fmt: skip


def _calendar_of(mime: EmailMessage) -> Calendar:
    parts = [p for p in mime.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_filename() == "visit.ics"
    assert parts[0].get_param("method") == "REQUEST"
    return Calendar.from_ical(parts[0].get_payload(decode=True))


async def test_file_mail_writes_one_eml_per_key_with_its_ics(tmp_path: Path) -> None:
    mail = FileMail(tmp_path / "mail", "Clinic <clinic@example.org>")
    await mail.send(_message())
    await mail.send(_message())  # a retry rewrites the same file
    (path,) = (tmp_path / "mail").glob("*.eml")
    assert path.stat().st_mode & 0o077 == 0
    mime = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(mime, EmailMessage)
    assert (mime["To"], mime["Subject"]) == ("alice@example.org", "Your virtual visit")
    event = _calendar_of(mime).walk("VEVENT")[0]
    assert event.decoded("dtstart") == START
    assert str(event["uid"]) == "appt-1@carebot"
    assert str(event["location"]) == "https://meet.example/x"


async def test_a_bad_address_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    mail = FileMail(tmp_path / "mail", "clinic@example.org")
    for address in ("not-an-address", "a@b.org\nBcc: evil@example.org"):
        with pytest.raises(MailError):
            await mail.send(_message(address))
    assert not list((tmp_path / "mail").glob("*.eml"))


class _Collect:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Collect, int]]:
    handler = _Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def test_smtp_hands_the_mail_and_its_ics_to_a_real_server(
    smtp_server: tuple[_Collect, int],
) -> None:
    handler, port = smtp_server
    mail = SmtpMail(SmtpConfig.from_url(f"smtp://127.0.0.1:{port}"), "clinic@example.org")
    await mail.send(_message())
    (envelope,) = handler.received
    assert envelope.mail_from == "clinic@example.org"
    assert envelope.rcpt_tos == ["alice@example.org"]
    assert isinstance(envelope.content, bytes)
    mime = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(mime, EmailMessage)
    assert _calendar_of(mime).walk("VEVENT")[0].decoded("dtend") == START + timedelta(minutes=30)


async def test_an_unreachable_smtp_server_is_a_mail_error() -> None:
    mail = SmtpMail(SmtpConfig.from_url(f"smtp://127.0.0.1:{_free_port()}"), "c@example.org",
                    timeout_s=2)  # fmt: skip
    with pytest.raises(MailError):
        await mail.send(_message())


def test_smtp_urls() -> None:
    assert SmtpConfig.from_url("smtps://u%40x:p@mail.example.org") == SmtpConfig(
        "mail.example.org", 465, "u@x", "p", True
    )
    assert SmtpConfig.from_url("smtp://mail.example.org:2525").port == 2525
    with pytest.raises(ValueError, match="CAREBOT_SMTP_URL"):
        SmtpConfig.from_url("http://mail.example.org")
