"""Care-manager alerts assembled once for the service: the detector on the change feed,
the escalator, one outbox handler per channel, the inbox's live stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alert_channels import AlertHub, TeamsAlertSender
from bot.proactive import ProactiveSender
from bot.settings import Settings
from bot.staff_alerts import ALERT_INBOX, AlertInbox
from integrations.accounts import AccountRepository
from integrations.alerts.codes import AlertKind, Channel
from integrations.alerts.deliveries import (
    AlertSender,
    Delivery,
    DeliveryHandler,
    RecordOnly,
    outbox_kind,
)
from integrations.alerts.detector import FEED_NAME, AlertDetector, Recipients
from integrations.alerts.escalation import AlertEscalator
from integrations.alerts.mail import MailAlertSender
from integrations.alerts.resources import patient_name
from integrations.alerts.routing import RoutingDefaults
from integrations.fhir.access import FhirAccess
from integrations.mail.models import Mail
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.feed_cursor import FeedCursor
from integrations.persistence.outbox import Outbox, OutboxHandler


def _practitioner(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    return value if value.startswith("Practitioner/") else f"Practitioner/{value}"


def routing_defaults(settings: Settings) -> RoutingDefaults:
    """The deployment's default and backup care managers."""
    return RoutingDefaults(
        _practitioner(settings.alerts_default_care_manager),
        _practitioner(settings.alerts_backup_care_manager),
    )


def escalation_times(settings: Settings) -> dict[AlertKind, timedelta]:
    """Minutes before escalation, per alert kind (unknown kinds are refused)."""
    return {
        AlertKind(kind): timedelta(minutes=minutes)
        for kind, minutes in settings.alerts_escalate_minutes.items()
    }


@dataclass(frozen=True)
class AlertServices:
    """What the service runs for alerts."""

    detector: AlertDetector
    escalator: AlertEscalator
    handlers: dict[str, OutboxHandler]


def alert_services(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    fhir: FhirAccess,
    outbox: Outbox,
    accounts: AccountRepository,
    references: ConversationRefStore,
    proactive: ProactiveSender,
    mail: Mail,
    hub: AlertHub,
    notify: Callable[[], None],
) -> AlertServices:
    """Build the detector, escalator and channel handlers from SETTINGS."""
    system = fhir.system()
    recipients = Recipients(system, accounts, references)

    async def name_for(delivery: Delivery) -> str:
        # the care manager's own read of their patient's name: audited as them
        if not delivery.account:
            return "a patient"
        client = fhir.for_staff(delivery.recipient, person=delivery.account)
        _, patient = await client.request_json("GET", delivery.patient)
        return patient_name(patient)

    def handler(
        sender: AlertSender, delivered: Callable[[Delivery], None] | None = None
    ) -> DeliveryHandler:
        return DeliveryHandler(
            sender, system, max_attempts=outbox.max_attempts, delivered=delivered
        )

    teams = TeamsAlertSender(proactive, references, name_for, settings.base_url)
    return AlertServices(
        detector=AlertDetector(
            system,
            FeedCursor(sessions, FEED_NAME),
            recipients,
            defaults=routing_defaults(settings),
            notify=notify,
        ),
        escalator=AlertEscalator(
            system, recipients, outbox, escalation_times(settings), notify=notify
        ),
        handlers={
            outbox_kind(Channel.INBOX): handler(RecordOnly(), hub.delivered),
            outbox_kind(Channel.TEAMS): handler(teams),
            outbox_kind(Channel.MAIL): handler(MailAlertSender(mail, settings.base_url)),
        },
    )


ALERTS: web.AppKey[AlertServices] = web.AppKey("carebot_alerts", AlertServices)


def mount_inbox(app: web.Application, outbox: Outbox, hub: AlertHub) -> None:
    """Give the inbox pages their outbox and wake-ups."""
    app[ALERT_INBOX] = AlertInbox(outbox, hub)
