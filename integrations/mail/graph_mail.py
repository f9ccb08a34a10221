"""Mail through Graph `sendMail` from the clinic's mailbox (`CAREBOT_MAIL=graph`).

Attachments go as fileAttachments (the `.ics` invitation as text/calendar). A throttle
(429/503) is waited out as Retry-After says, since Graph refused the message; anything else
raises `MailError` and the outbox delivers again later (mails are sent at least once and
keyed, so a patient sees one).
"""

from __future__ import annotations

from kiota_abstractions.api_error import APIError
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)

from integrations.graph.client import GraphClient
from integrations.graph.retry_policy import GraphUnavailable, call_with_retry, status_of
from integrations.mail.models import MailError, MailMessage, to_mime

THROTTLED = frozenset({429, 503})


def to_graph_message(message: MailMessage) -> Message:
    """MESSAGE as a Graph message (pure)."""
    return Message(
        subject=message.subject,
        body=ItemBody(content_type=BodyType.Text, content=message.text),
        to_recipients=[Recipient(email_address=EmailAddress(address=message.to))],
        attachments=[
            FileAttachment(
                name=a.filename, content_type=a.mime_type.split(";")[0], content_bytes=a.content
            )
            for a in message.attachments
        ],
    )


class GraphMail:
    """`Mail` sent by Graph from SENDER's mailbox."""

    def __init__(self, graph: GraphClient, sender: str) -> None:
        self._send_mail = graph.sdk.users.by_user_id(sender).send_mail
        self._sender = sender

    async def send(self, message: MailMessage) -> None:
        """Send MESSAGE (a bad address fails before any call)."""
        to_mime(message, self._sender)  # the same address checks as every other mail
        body = SendMailPostRequestBody(message=to_graph_message(message), save_to_sent_items=False)

        async def send_unless_refused() -> None:
            try:
                await self._send_mail.post(body)
            except APIError as error:
                if status_of(error) in THROTTLED:
                    raise  # refused, not sent: waited out and sent again
                raise MailError(f"Graph refused the mail ({status_of(error)})") from None

        try:
            await call_with_retry(send_unless_refused)
        except GraphUnavailable:
            raise MailError("Graph did not take the mail") from None
