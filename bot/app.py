"""The aiohttp application factory: builds every service from settings, closes them on exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import handoff_pages, messages, portal, smart, staff, staff_alerts
from bot.adapter import CarebotAdapter, ChannelConversationState
from bot.alert_channels import AlertHub
from bot.alerts_wiring import ALERTS, alert_services, mount_inbox
from bot.bot_storage import SqlStorage
from bot.channel_auth import ChannelAuthenticator, ChannelGate, ClosedChannel, EmulatorChannel
from bot.connector import AnonymousTokens, ClientCredentialsTokens, ConnectorClient, TokenProvider
from bot.conversation_refs import ReferenceRecorder
from bot.csrf import csrf_protection
from bot.directline import routes as directline_routes
from bot.directline.store import DirectLineStore
from bot.fhir_access import fhir_config
from bot.handler import CarebotBot
from bot.handoffs import HANDOFFS, ChatHandoffDesk, HandoffDesks, HandoffRelay
from bot.http_json import json_errors
from bot.patient_records import PatientFacts, PatientRecorder, PatientVitals
from bot.people import PersonResolver
from bot.proactive import (
    CHAT_MESSAGE,
    OUTBOX,
    PROACTIVE,
    ChannelSinks,
    ChatMessageHandler,
    ProactiveSender,
)
from bot.reminders import REMINDER, ReminderHandler, ReminderScanner
from bot.security_headers import security_headers
from bot.services import SERVICES, Services
from bot.settings import Settings
from bot.signing import Signer
from bot.text_limit import TextLimit
from bot.triage_text import triage_text_model
from bot.turn_locks import TurnLocks
from bot.visits_wiring import open_visit_backends, visit_service
from bot.workers import WORKERS, WorkerHost, workers_ctx
from dialogs.assessment import TriageEngine
from dialogs.base import Dialog, Interrupt, Opening
from dialogs.booking_dialog import BookingDialog
from dialogs.evidence import PatientFactsSource, TriageRecorder, VitalsSource
from dialogs.global_interrupt import GlobalInterrupt
from dialogs.handoff_dialog import HandoffDesk, HandoffDialog
from dialogs.language import LanguageDialog, LanguagePreferences
from dialogs.menu import Capabilities, MenuDialog
from dialogs.outcomes import TriageOutcome
from dialogs.red_flag_interrupt import RedFlagInterrupt
from dialogs.runner import DialogRunner
from dialogs.slot_choice import warm as warm_date_parser
from dialogs.texts import language_from_locale
from dialogs.triage.advice import EmergencyNumbers
from dialogs.triage.knowledge_base import Knowledge, load_knowledge
from dialogs.triage.text_model import TextModel
from dialogs.triage_dialog import TriageDialog
from dialogs.visits_dialog import VisitsDialog
from dialogs.vitals_dialog import VitalsDialog
from integrations.accounts import AccountRepository
from integrations.alerts.acknowledge import AlertAcks
from integrations.fhir.access import FhirService
from integrations.iomt import http as iomt_http
from integrations.iomt.service import start_iomt
from integrations.iomt.settings import IomtSettings
from integrations.mail.outbox_mail import MAIL, MailHandler, OutboxMail
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.handoffs import HandoffStore
from integrations.persistence.outbox import Outbox, OutboxDispatcher
from integrations.sign_in_throttle import SignInThrottle
from integrations.visits.service import VisitService
from integrations.web_session_store import WebSessionStore

log = logging.getLogger(__name__)

# Room for FHIR transaction bundles; each endpoint enforces its own, smaller limit.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def _tokens(settings: Settings, http: aiohttp.ClientSession) -> TokenProvider:
    if not settings.microsoft_app_id:
        return AnonymousTokens()
    tenant = settings.microsoft_app_tenant_id or "botframework.com"
    return ClientCredentialsTokens(
        http,
        token_url=settings.microsoft_token_url
        or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        client_id=settings.microsoft_app_id,
        client_secret=settings.microsoft_app_password,
    )


def channel_gate(settings: Settings, http: aiohttp.ClientSession) -> ChannelGate:
    """Who may post to /api/messages: channel JWTs with an app id, else emulator or closed."""
    if settings.microsoft_app_id:
        return ChannelAuthenticator(
            http,
            settings.microsoft_app_id,
            openid_url=settings.channel_openid_url,
            service_origins=settings.channel_service_origins,
        )
    return EmulatorChannel() if settings.emulator_mode else ClosedChannel()


def emergency_numbers(settings: Settings) -> EmergencyNumbers:
    """The defaults, with the deployment's own numbers (which then say just the number)."""
    defaults = EmergencyNumbers()
    return EmergencyNumbers(
        numbers={**defaults.numbers, **settings.emergency_numbers},
        labels={**defaults.labels, **settings.emergency_numbers},
    )


@dataclass(frozen=True)
class DialogServices:
    """What the dialogs are built from: the patient's data, the knowledge, the locale."""

    vitals: VitalsSource
    recorder: TriageRecorder
    languages: LanguagePreferences
    knowledge: Knowledge
    text_model: TextModel | None = None  # blended into triage when given
    emergency: EmergencyNumbers = field(default_factory=EmergencyNumbers)
    zone: tzinfo = UTC
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    facts: PatientFactsSource | None = None  # the record's age, sex, pregnancy for triage
    booking: Dialog[TriageOutcome | None] | None = None  # a given booking dialog (tests)
    visits: VisitService | None = None  # booking and "my visits" are built on it
    routine_hours: int = 14 * 24
    hold_minutes: int = 10
    handoff: HandoffDesk | None = None  # "a care manager in this chat" when given


def _visit_dialogs(
    services: DialogServices,
) -> tuple[Dialog[TriageOutcome | None] | None, Dialog[Opening] | None]:
    if services.visits is None:
        return services.booking, None
    zone = ZoneInfo(str(services.zone))
    booking = BookingDialog(
        services.visits, emergency=services.emergency, zone=zone, clock=services.clock,
        routine_hours=services.routine_hours, hold_minutes=services.hold_minutes,
    )  # fmt: skip
    return booking, VisitsDialog(services.visits, booking, zone=zone)


def build_runner(services: DialogServices) -> tuple[MenuDialog, DialogRunner]:
    """The root menu and the runner holding every dialog and interrupt, wired once."""
    clock, emergency = services.clock, services.emergency
    triage = TriageDialog(
        services.vitals, services.recorder, facts=services.facts, emergency=emergency, clock=clock
    )
    vitals = VitalsDialog(
        services.vitals, triage, services.recorder, clock=clock, zone=services.zone
    )
    language = LanguageDialog(services.languages)
    booking, visits = _visit_dialogs(services)
    handoff = HandoffDialog(services.handoff, emergency) if services.handoff else None
    menu = MenuDialog(
        Capabilities(
            triage=triage,
            vitals=vitals,
            booking=booking,
            visits=visits,
            language=language,
            handoff=handoff,
        ),
        emergency,
    )
    dialogs: list[Dialog[Any]] = [triage, vitals, language]
    dialogs += [d for d in (booking, visits, handoff) if d is not None]
    interrupts: list[Interrupt] = [
        RedFlagInterrupt(emergency, services.recorder),
        GlobalInterrupt(menu),
    ]
    return menu, DialogRunner(
        menu, dialogs, interrupts, engine=TriageEngine(services.knowledge, services.text_model)
    )


async def _services(
    app: web.Application, settings: Settings, engine: AsyncEngine, fhir_service: FhirService
) -> AsyncIterator[None]:
    sessions = create_sessionmaker(engine)
    stack = AsyncExitStack()  # the visit backends' Graph client, when one is named
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
    accounts = AccountRepository(sessions)
    fhir = fhir_service.open()
    outbox = Outbox(sessions)

    def notify() -> None:
        app[OUTBOX].notify()

    handoffs = HandoffStore(sessions)
    app[HANDOFFS] = HandoffDesks(ChatHandoffDesk(handoffs, fhir),
                                 HandoffRelay(handoffs, fhir, outbox, notify))  # fmt: skip

    # visit mails go through the outbox; its handler hands them to the configured adapter
    backends = await stack.enter_async_context(open_visit_backends(settings, fhir))
    visits = visit_service(
        settings, fhir, backends, mail=OutboxMail(outbox, settings.mail_from, notify)
    )
    menu, runner = build_runner(
        DialogServices(
            vitals=PatientVitals(fhir),
            recorder=PatientRecorder(fhir),
            facts=PatientFacts(fhir),
            languages=accounts,
            knowledge=load_knowledge(),
            text_model=triage_text_model(settings),
            emergency=emergency_numbers(settings),
            zone=ZoneInfo(settings.timezone),
            visits=visits,
            routine_hours=settings.booking_routine_hours,
            hold_minutes=settings.hold_minutes,
            handoff=app[HANDOFFS].desk,
        )
    )
    # the date parser's first parse costs seconds: paid here, not in a patient's turn
    await asyncio.to_thread(warm_date_parser)
    people = PersonResolver(
        accounts,
        language_from_locale(settings.default_language) or "en",
        trust_channel_identities=bool(settings.microsoft_app_id),
    )
    bot = CarebotBot(
        ChannelConversationState(SqlStorage(sessions)), runner, menu, people, AlertAcks(fhir)
    )
    connector = ConnectorClient(http, _tokens(settings, http))
    directline = DirectLineStore(sessions)
    # Proactive seam: every inbound turn stores its reference; sends pick their sink from it.
    references = ConversationRefStore(sessions)
    # Several processes share a PostgreSQL database: turns of a conversation wait across them.
    locks = TurnLocks(engine if engine.dialect.name == "postgresql" else None)
    adapter = CarebotAdapter(locks=locks, sinks=ChannelSinks(directline, connector))
    adapter.use(ReferenceRecorder(references, people))
    adapter.use(TextLimit(people, settings.max_chat_chars))
    app[PROACTIVE] = ProactiveSender(adapter, references, connector)
    hub = AlertHub()
    mount_inbox(app, outbox, hub)
    alerts = alert_services(
        settings, sessions=sessions, fhir=fhir, outbox=outbox, accounts=accounts,
        references=references, proactive=app[PROACTIVE], mail=backends.mail, hub=hub,
        notify=notify,
    )  # fmt: skip
    app[ALERTS] = alerts
    app[OUTBOX] = OutboxDispatcher(
        outbox,
        {
            CHAT_MESSAGE: ChatMessageHandler(app[PROACTIVE]),
            REMINDER: ReminderHandler(visits, outbox, notify),
            MAIL: MailHandler(backends.mail),
            **alerts.handlers,
        },
    )
    app[WORKERS].register("outbox", app[OUTBOX].run)
    app[WORKERS].register("reminders", ReminderScanner(fhir, outbox, notify=notify).run)
    # device JSON from other clouds and gateways (issue 20): same store as the BLE readings
    await start_iomt(app, sessions, fhir.system(), IomtSettings(), app[WORKERS].register)
    if settings.alerts:
        app[WORKERS].register("alerts-detect", alerts.detector.run)
        app[WORKERS].register("alerts-escalate", alerts.escalator.run)
    app[SERVICES] = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        http=http,
        fhir=fhir,
        accounts=accounts,
        signer=Signer(settings.resolved_secret_key()),
        adapter=adapter,
        connector=connector,
        channel_auth=channel_gate(settings, http),
        bot=bot,
        directline=directline,
        web_sessions=WebSessionStore(sessions),
        sign_in_throttle=SignInThrottle(sessions),
        visits=visits,
    )
    try:
        yield
    finally:
        await stack.aclose()
        await http.close()
        await fhir.aclose()
        await close_engine(engine)


async def health(request: web.Request) -> web.Response:
    """Liveness probe."""
    return web.json_response({"status": "ok"})


def create_app(settings: Settings) -> web.Application:
    """The whole carebot service as one aiohttp application."""
    app = web.Application(
        middlewares=[security_headers, json_errors, csrf_protection],
        client_max_size=MAX_REQUEST_BYTES,
    )
    # One connection pool for the bot and the embedded FHIR store (no I/O until first use).
    engine = create_engine(settings.resolved_database_url)
    # The one choice of FHIR backend: the embedded store (mounted at /fhir, called in
    # process by the bot) or an outside server.
    fhir = FhirService(fhir_config(settings), create_sessionmaker(engine))

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        async for _ in _services(app, settings, engine, fhir):
            yield

    app[WORKERS] = WorkerHost()
    subscriptions = fhir.subscriptions  # the embedded store's rest-hook notifications
    if subscriptions is not None:
        app[WORKERS].register("fhir-subscriptions", subscriptions.run, stop=subscriptions.stop)
    app.cleanup_ctx.append(services_ctx)
    app.cleanup_ctx.append(workers_ctx)  # started after the services, stopped before them
    app.router.add_get("/healthz", health)
    messages.add_routes(app)
    directline_routes.add_routes(app)
    portal.add_routes(app)
    staff.add_routes(app)
    handoff_pages.add_routes(app)
    staff_alerts.add_routes(app)
    iomt_http.add_routes(app)
    if fhir.store_app is not None and fhir.access_key is not None:
        smart.mount(app, fhir.store_app, fhir.access_key, create_sessionmaker(engine))
    fhir.mount(app)
    return app
