"""Service settings, read from `CAREBOT_*` environment variables (documented in the README)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.service_url import BOT_FRAMEWORK_ORIGINS, valid_origin
from integrations.fhir_store.subscription_rules import DeliveryPolicy
from integrations.persistence.database import is_sqlite
from integrations.persistence.private_files import write_private_text


class SecretKeyRequiredError(RuntimeError):
    """Several processes would each sign with a key of their own."""


class Settings(BaseSettings):
    """Every knob of a carebot process; defaults give the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="CAREBOT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = Field(
        default="", description="Base URL users reach; default http://HOST:PORT"
    )
    var_dir: Path = Path("var")
    database_url: str = Field(
        default="", description="SQLAlchemy async URL; default SQLite in var/"
    )
    secret_key: str = Field(default="", description="Signs sessions and Direct Line tokens")
    frame_ancestors: str = Field(
        default="'none'",
        description="CSP frame-ancestors: who may show our pages in a frame, e.g. a Teams tab",
    )
    log_level: str = "INFO"
    default_language: str = "en"
    emergency_numbers: dict[str, str] = Field(
        default_factory=dict,
        description='Emergency number per language or locale, JSON: {"en": "999", "fr": "112"}',
    )
    timezone: str = Field(
        default="UTC", description="IANA time zone for times shown to people, e.g. Europe/Paris"
    )
    microsoft_app_id: str = ""
    microsoft_app_password: str = ""
    microsoft_app_tenant_id: str = ""
    microsoft_token_url: str = Field(
        default="",
        description="OAuth2 token endpoint for the bot's replies; default Microsoft Entra's",
    )
    channel_openid_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="OpenID metadata of the tokens Azure Bot Service sends to /api/messages",
    )
    # -- the bot's channels (/api/messages and the local Direct Line) --
    emulator_mode: bool = Field(
        default=False,
        description="Open /api/messages without an app id, to loopback clients replying to "
        "loopback serviceUrls only (the Bot Framework Emulator)",
    )
    channel_service_origins: list[str] = Field(
        default_factory=lambda: list(BOT_FRAMEWORK_ORIGINS),
        description="With an app id: where replies may go when the channel token names no "
        "serviceUrl (JSON list of origins, `https://*.botframework.com` style)",
    )
    max_chat_chars: int = Field(
        default=4000, ge=1, description="Longest chat message the bot reads; longer gets a reply"
    )
    directline_conversations_per_hour: int = Field(
        default=10, ge=1, description="Direct Line conversations one account may open per hour"
    )
    fhir_url: str = Field(
        default="", description="An outside FHIR R4 server; default the embedded store at /fhir"
    )
    fhir_token: str = Field(default="", description="Bearer token for CAREBOT_FHIR_URL")
    webchat_dir: Path = Field(
        default=Path("bot/portal/node_modules/botframework-webchat/dist"),
        description="Folder holding Web Chat's webchat.js bundle",
    )
    triage_text_model: bool = Field(
        default=True,
        description="Blend the learned text model (knowledge/text_model.json) into triage, "
        "under the safety limits of dialogs/triage/text_blend.py",
    )
    # -- visits: scheduler, meeting links, mail (embedded, or Microsoft 365 through Graph) --
    scheduler: Literal["fhir", "bookings"] = Field(
        default="fhir",
        description="Where slots and bookings live: FHIR Schedule/Slot, or Microsoft Bookings",
    )
    meetings: Literal["jitsi", "teams", "bookings"] = Field(
        default="jitsi",
        description="Meeting links: Jitsi Meet, Teams online meetings, or the Bookings "
        "appointment's own Teams link",
    )
    jitsi_url: str = Field(default="https://meet.jit.si", description="Jitsi Meet base URL")
    jitsi_app_id: str = Field(default="", description="A self-hosted Jitsi's JWT app id")
    jitsi_secret: str = Field(default="", description="A self-hosted Jitsi's JWT app secret")
    mail: Literal["file", "smtp", "graph"] = Field(
        default="file", description="Outgoing mail: .eml files in var/mail, SMTP, or Graph sendMail"
    )
    graph_url: str = Field(
        default="https://graph.microsoft.com/v1.0", description="Microsoft Graph base URL"
    )
    graph_tenant_id: str = Field(default="", description="Microsoft Entra tenant of the app")
    graph_client_id: str = Field(default="", description="The app registration's client id")
    graph_client_secret: str = Field(default="", description="The app registration's secret")
    graph_authority: str = Field(
        default="", description="Token endpoint base; default Microsoft Entra ID's (tests)"
    )
    graph_ca_file: str = Field(
        default="", description="CA bundle trusted for the token endpoint (a local one, tests)"
    )
    graph_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one Graph request may take"
    )
    bookings_business_id: str = Field(
        default="", description="The Bookings business, e.g. Clinic@contoso.onmicrosoft.com"
    )
    smtp_url: str = Field(default="", description="smtp://[user:password@]host[:port] or smtps://")
    mail_from: str = Field(
        default="carebot@localhost", description="The From address of the mails carebot sends"
    )
    booking_routine_hours: int = Field(
        default=14 * 24, ge=1, description="Booking from the menu: how far ahead slots are offered"
    )
    slot_minutes: int = Field(default=30, ge=5, le=240, description="Length of a visit slot")
    hold_minutes: int = Field(default=10, ge=1, le=60, description="How long a slot is held")

    # -- Subscriptions of the embedded FHIR store (rest-hook delivery) --
    subscription_retry_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a failing rest-hook notification is retried before its "
        "Subscription goes to status error",
    )
    subscription_max_failures: int = Field(
        default=0,
        ge=0,
        description="Failed attempts in a row after which a Subscription goes to status error "
        "(0: only the retry period decides)",
    )
    subscription_first_retry_s: float = Field(
        default=1.0, gt=0, description="First retry delay of a notification; it doubles"
    )
    subscription_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one notification attempt may take"
    )
    subscription_dispatchers: int = Field(
        default=4, ge=1, description="Notification senders per process on PostgreSQL (SQLite: 1)"
    )
    subscription_lease_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a sender's claim lasts unrenewed: how soon the deliveries of a "
        "process that died pass to another",
    )

    def subscription_policy(self) -> DeliveryPolicy:
        """How the embedded store delivers Subscription notifications."""
        return DeliveryPolicy(
            first_retry_s=self.subscription_first_retry_s,
            retry_period_s=self.subscription_retry_hours * 3600,
            max_failures=self.subscription_max_failures,
            timeout_s=self.subscription_timeout_s,
            dispatchers=self.subscription_dispatchers,
            lease_s=self.subscription_lease_s,
        )

    # -- care-manager alerts --
    alerts: bool = Field(
        default=True, description="Detect alerts on the FHIR change feed and deliver them here"
    )
    alerts_default_care_manager: str = Field(
        default="",
        description="Practitioner id that gets the alerts of care teams without a care manager",
    )
    alerts_backup_care_manager: str = Field(
        default="",
        description="Practitioner id unacknowledged alerts escalate to (when the team has none)",
    )
    alerts_escalate_minutes: dict[str, float] = Field(
        default_factory=lambda: {"note": 60.0, "flag": 15.0, "risk": 15.0},
        description="Minutes before an unacknowledged alert escalates, per kind, JSON: "
        '{"note": 60, "flag": 15, "risk": 15}',
    )

    @model_validator(mode="after")
    def _graph_backends(self) -> Settings:
        if self.meetings == "bookings" and self.scheduler != "bookings":
            raise ValueError("CAREBOT_MEETINGS=bookings needs CAREBOT_SCHEDULER=bookings")
        if self.scheduler == "bookings" and not self.bookings_business_id:
            raise ValueError("CAREBOT_SCHEDULER=bookings needs CAREBOT_BOOKINGS_BUSINESS_ID")
        return self

    @property
    def uses_graph(self) -> bool:
        """Whether any visit backend is on Microsoft Graph."""
        return (
            self.scheduler == "bookings"
            or self.meetings in ("teams", "bookings")
            or self.mail == "graph"
        )

    @field_validator("frame_ancestors")
    @classmethod
    def _one_csp_directive(cls, value: str) -> str:
        # The value goes into a header: no directive separators, no line breaks.
        if not value.strip() or any(c in value for c in ";,\r\n"):
            raise ValueError(
                "a space-separated CSP source list, e.g. 'self' https://teams.microsoft.com"
            )
        return value.strip()

    @field_validator("channel_service_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        wrong = [origin for origin in origins if not valid_origin(origin)]
        if wrong:
            raise ValueError(f"not an origin like https://host[:port]: {wrong}")
        return origins

    @property
    def base_url(self) -> str:
        """The URL printed for users and used in links."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under `var_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'carebot.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The signing key: from the environment, else one generated once and kept in var/.

        A shared database (anything but SQLite) means several processes: each would make its
        own key and refuse the others' cookies and tokens, so the key must then be set."""
        if self.secret_key:
            return self.secret_key
        if not is_sqlite(self.resolved_database_url):
            raise SecretKeyRequiredError(
                "CAREBOT_SECRET_KEY must be set when CAREBOT_DATABASE_URL is a shared database "
                "(PostgreSQL): every process would otherwise generate its own key and refuse "
                "the sessions and Direct Line tokens of the others. Give all of them the same "
                "key, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        path = self.var_dir / "secret.key"
        key = secrets.token_urlsafe(48)
        try:
            write_private_text(path, key, exclusive=True)
        except FileExistsError:
            return path.read_text().strip()
        return key
