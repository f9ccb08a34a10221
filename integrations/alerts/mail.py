"""The mail channel of alerts: a short notice with a link to the inbox, through the
configured `Mail` adapter (files, SMTP or Graph). It names no patient and no clinical
detail: mail travels further than the inbox."""

from __future__ import annotations

from integrations.alerts.codes import KIND_TEXT
from integrations.alerts.deliveries import Delivery
from integrations.mail.models import Mail, MailError, MailMessage
from integrations.persistence.outbox import PermanentDeliveryError


def alert_mail(delivery: Delivery, base_url: str) -> MailMessage:
    """The notice of DELIVERY (pure)."""
    if not delivery.address:
        raise ValueError("the delivery has no mail address")
    what = KIND_TEXT[delivery.kind]
    link = f"{base_url.rstrip('/')}/staff/alerts"
    text = (
        f"{what} for one of your patients at {delivery.at}.\n\n"
        f"Open your alerts to review and acknowledge it:\n{link}\n"
    )
    return MailMessage(delivery.key, delivery.address, f"carebot: {what}", text)


class MailAlertSender:
    """Sends alert notices through MAIL."""

    def __init__(self, mail: Mail, base_url: str) -> None:
        self._mail = mail
        self._base_url = base_url

    async def send(self, delivery: Delivery) -> None:
        """Hand the notice over; a missing or bad address is permanent."""
        try:
            await self._mail.send(alert_mail(delivery, self._base_url))
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        except MailError as error:
            if "not a mail address" in str(error):
                raise PermanentDeliveryError("not a mail address") from None
            raise
