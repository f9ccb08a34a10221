"""Which scheduler, meetings and mail the visits use: decided once, here, from settings.

The Microsoft 365 backends share one Graph client (opened here, warmed up at start-up so
the SDK's first-request cost never lands in a patient's turn, and closed with the app)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.settings import Settings
from integrations.fhir.access import FhirAccess
from integrations.graph.client import GraphClient, open_graph
from integrations.graph.config import GraphConfig
from integrations.mail.file_mail import FileMail
from integrations.mail.graph_mail import GraphMail
from integrations.mail.models import Mail
from integrations.mail.smtp_mail import SmtpConfig, SmtpMail
from integrations.meetings.bookings_meetings import BookingsMeetings
from integrations.meetings.jitsi import JitsiConfig, JitsiMeetings
from integrations.meetings.models import Meetings
from integrations.meetings.teams import TeamsMeetings
from integrations.scheduling.bookings_scheduler import BookingsScheduler
from integrations.scheduling.fhir_scheduler import FhirScheduler
from integrations.scheduling.models import Scheduler
from integrations.visits.service import VisitService

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class VisitBackends:
    """The scheduler, meetings and mail the settings name."""

    scheduler: Scheduler
    meetings: Meetings
    mail: Mail


def graph_config(settings: Settings) -> GraphConfig:
    """The Graph client's settings (CAREBOT_GRAPH_*)."""
    return GraphConfig(
        tenant_id=settings.graph_tenant_id,
        client_id=settings.graph_client_id,
        client_secret=settings.graph_client_secret,
        url=settings.graph_url,
        authority=settings.graph_authority,
        ca_file=settings.graph_ca_file,
        timeout_s=settings.graph_timeout_s,
    )


def _mail(settings: Settings, graph: GraphClient | None) -> Mail:
    """CAREBOT_MAIL: `.eml` files under var/mail (default), SMTP, or Graph sendMail."""
    if settings.mail == "smtp":
        return SmtpMail(SmtpConfig.from_url(settings.smtp_url), settings.mail_from)
    if settings.mail == "graph" and graph is not None:
        return GraphMail(graph, settings.mail_from)
    return FileMail(settings.var_dir / "mail", settings.mail_from)


def _scheduler(
    settings: Settings, fhir: FhirAccess, clock: Clock, graph: GraphClient | None
) -> Scheduler:
    """CAREBOT_SCHEDULER: FHIR Schedule/Slot/Appointment, or Microsoft Bookings."""
    if settings.scheduler == "bookings" and graph is not None:
        return BookingsScheduler(
            fhir, graph, settings.bookings_business_id,
            online=settings.meetings == "bookings", slot_minutes=settings.slot_minutes,
            hold_minutes=settings.hold_minutes, default_zone=settings.timezone, clock=clock,
        )  # fmt: skip
    return FhirScheduler(
        fhir,
        slot_minutes=settings.slot_minutes,
        hold_minutes=settings.hold_minutes,
        default_zone=settings.timezone,
        clock=clock,
    )


def _meetings(settings: Settings, scheduler: Scheduler, graph: GraphClient | None) -> Meetings:
    """CAREBOT_MEETINGS: Jitsi rooms on CAREBOT_JITSI_URL, Teams meetings, or Bookings'."""
    if settings.meetings == "teams" and graph is not None:
        return TeamsMeetings(graph, settings.mail_from)
    if settings.meetings == "bookings" and isinstance(scheduler, BookingsScheduler):
        return BookingsMeetings(scheduler)
    return JitsiMeetings(
        JitsiConfig(settings.jitsi_url, settings.jitsi_app_id, settings.jitsi_secret)
    )


def _backends(
    settings: Settings, fhir: FhirAccess, clock: Clock, graph: GraphClient | None
) -> VisitBackends:
    scheduler = _scheduler(settings, fhir, clock, graph)
    return VisitBackends(scheduler, _meetings(settings, scheduler, graph), _mail(settings, graph))


@asynccontextmanager
async def open_visit_backends(
    settings: Settings, fhir: FhirAccess, clock: Clock = lambda: datetime.now(UTC)
) -> AsyncIterator[VisitBackends]:
    """The visit backends for the life of the block (a Graph client when one is named)."""
    if not settings.uses_graph:
        yield _backends(settings, fhir, clock, None)
        return
    async with open_graph(graph_config(settings)) as graph:
        try:
            await graph.warm_up(settings.bookings_business_id or None)
        except Exception as error:  # Graph down at start-up: serve, and say why not
            log.warning("Microsoft Graph warm-up failed: %s", type(error).__name__)
        yield _backends(settings, fhir, clock, graph)


def visit_service(
    settings: Settings,
    fhir: FhirAccess,
    backends: VisitBackends,
    *,
    mail: Mail | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> VisitService:
    """The visit service on BACKENDS (MAIL given: used instead of theirs)."""
    return VisitService(
        fhir,
        backends.scheduler,
        backends.meetings,
        mail if mail is not None else backends.mail,
        clinic_mail=settings.mail_from,
        zone=settings.timezone,
        clock=clock,
    )
