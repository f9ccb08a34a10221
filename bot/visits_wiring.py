"""Which scheduler, meetings and mail the visits use: decided once, here, from settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.settings import Settings
from integrations.fhir.access import FhirAccess
from integrations.mail.file_mail import FileMail
from integrations.mail.models import Mail
from integrations.mail.smtp_mail import SmtpConfig, SmtpMail
from integrations.meetings.jitsi import JitsiConfig, JitsiMeetings
from integrations.meetings.models import Meetings
from integrations.scheduling.fhir_scheduler import FhirScheduler
from integrations.scheduling.models import Scheduler
from integrations.visits.service import VisitService


def mail_from_settings(settings: Settings) -> Mail:
    """CAREBOT_MAIL: `.eml` files under var/mail (default) or SMTP at CAREBOT_SMTP_URL."""
    if settings.mail == "smtp":
        return SmtpMail(SmtpConfig.from_url(settings.smtp_url), settings.mail_from)
    return FileMail(settings.var_dir / "mail", settings.mail_from)


def meetings_from_settings(settings: Settings) -> Meetings:
    """CAREBOT_MEETINGS: Jitsi rooms on CAREBOT_JITSI_URL (signed with its JWT secret)."""
    return JitsiMeetings(
        JitsiConfig(settings.jitsi_url, settings.jitsi_app_id, settings.jitsi_secret)
    )


def scheduler_from_settings(
    settings: Settings, fhir: FhirAccess, clock: Callable[[], datetime]
) -> Scheduler:
    """CAREBOT_SCHEDULER: FHIR Schedule/Slot/Appointment."""
    return FhirScheduler(
        fhir,
        slot_minutes=settings.slot_minutes,
        hold_minutes=settings.hold_minutes,
        default_zone=settings.timezone,
        clock=clock,
    )


def visit_service(
    settings: Settings,
    fhir: FhirAccess,
    *,
    mail: Mail | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> VisitService:
    """The visit service on the backends the settings name (MAIL given: used instead)."""
    return VisitService(
        fhir,
        scheduler_from_settings(settings, fhir, clock),
        meetings_from_settings(settings),
        mail if mail is not None else mail_from_settings(settings),
        clinic_mail=settings.mail_from,
        zone=settings.timezone,
        clock=clock,
    )
