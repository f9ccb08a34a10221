"""Mail through the durable outbox: `OutboxMail.send` stores the message (keyed, so a
retried producer stores it once) and the dispatcher's `MailHandler` hands it to the real
adapter (files or SMTP), retrying with backoff; a bad address is given up at once."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from integrations.mail.models import Attachment, Mail, MailError, MailMessage, to_mime
from integrations.persistence.outbox import (
    ClaimedItem,
    Outbox,
    OutboxItem,
    PermanentDeliveryError,
)

MAIL = "mail"


def to_payload(message: MailMessage) -> str:
    """MESSAGE as outbox JSON (attachments base64)."""
    return json.dumps({
        "key": message.key, "to": message.to, "subject": message.subject, "text": message.text,
        "attachments": [
            {"filename": a.filename, "mimeType": a.mime_type,
             "content": base64.b64encode(a.content).decode("ascii")}
            for a in message.attachments
        ],
    })  # fmt: skip


def from_payload(payload: str) -> MailMessage:
    """Read back `to_payload` (ValueError on anything else)."""
    try:
        data = json.loads(payload)
        attachments = tuple(
            Attachment(str(a["filename"]), base64.b64decode(a["content"]), str(a["mimeType"]))
            for a in data["attachments"]
        )
        return MailMessage(str(data["key"]), str(data["to"]), str(data["subject"]),
                           str(data["text"]), attachments)  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a mail payload: {type(error).__name__}") from None


class OutboxMail:
    """`Mail` that enqueues; delivery happens in the outbox worker."""

    def __init__(self, outbox: Outbox, sender: str, notify: Callable[[], None]) -> None:
        self._outbox = outbox
        self._sender = sender
        self._notify = notify

    async def send(self, message: MailMessage) -> None:
        """Check MESSAGE can be sent (bad addresses fail now), then store it."""
        to_mime(message, self._sender)
        if await self._outbox.enqueue(OutboxItem(message.key, MAIL, to_payload(message))):
            self._notify()


class MailHandler:
    """Delivers `mail` outbox items with the configured adapter."""

    def __init__(self, mail: Mail) -> None:
        self._mail = mail

    async def deliver(self, item: ClaimedItem) -> None:
        """Send the stored mail; a malformed one or a bad address is permanent."""
        try:
            message = from_payload(item.payload)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        try:
            await self._mail.send(message)
        except MailError as error:
            if "not a mail address" in str(error):
                raise PermanentDeliveryError("not a mail address") from None
            raise
