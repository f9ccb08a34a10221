"""The `Mail` Protocol and the message it sends, turned into a MIME message (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    """A file attached to a mail."""

    filename: str
    content: bytes
    mime_type: str  # "text/calendar; method=REQUEST"


@dataclass(frozen=True)
class MailMessage:
    """One mail to one person; KEY names it uniquely (a retry sends the same key)."""

    key: str
    to: str
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()


class MailError(Exception):
    """The mail could not be handed over (bad address, server refused)."""


class Mail(Protocol):
    """Hands mails over for delivery."""

    async def send(self, message: MailMessage) -> None:
        """Send MESSAGE (raises `MailError` when it cannot)."""
        ...


def to_mime(message: MailMessage, sender: str, now: datetime | None = None) -> EmailMessage:
    """MESSAGE as a MIME message from SENDER (a calendar attachment as text/calendar)."""
    if "\n" in message.to or "\r" in message.to or "@" not in message.to:
        raise MailError("not a mail address")
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(now or datetime.now(UTC))
    mime["Message-ID"] = make_msgid(idstring=message.key.replace("/", "-"), domain="carebot")
    mime.set_content(message.text)
    for attachment in message.attachments:
        main, _, rest = attachment.mime_type.partition("/")
        sub, *params = [p.strip() for p in rest.split(";")]
        mime.add_attachment(
            attachment.content, maintype=main, subtype=sub, filename=attachment.filename
        )
        parts = mime.get_payload()
        part = parts[-1] if isinstance(parts, list) else None
        if not isinstance(part, EmailMessage):
            raise MailError("the attachment was not added")
        for param in params:
            name, _, value = param.partition("=")
            part.set_param(name, value)
    return mime
