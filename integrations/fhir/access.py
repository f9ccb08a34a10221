"""The one way the service reaches FHIR: clients bound to the service, a patient, a person.

    fhir = FhirService(FhirConfig(url, token, secret, public_url), sessions)  # in create_app
    fhir.mount(app)              # the embedded store at /fhir for outside clients
    access = fhir.open()         # once the app has started
    alice = access.for_patient("Patient/1", person=account_id)
    system = access.system()

With the embedded store, every client talks to the store in process (an httpx transport
that hands requests to the store's aiohttp app: no socket, the same authentication, scope
checks and audit as a network client), with short-lived tokens signed by the service's
key: a patient's client is confined to that patient's compartment and names the person it
acts for, so the store's one AuditEvent per access says who. With an outside server the
configured token is used for everything and that server decides what it reaches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol

import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir.backend import FhirBackend, get_default_backend
from integrations.fhir.client import FhirClient
from integrations.fhir.in_process import AiohttpAppTransport
from integrations.fhir_store.access_tokens import DEFAULT_TTL_S, AccessTokenKey
from integrations.fhir_store.app import MAX_BODY, SUBSCRIPTIONS_KEY, create_fhir_app
from integrations.fhir_store.subscription_delivery import SubscriptionEngine
from integrations.fhir_store.subscription_rules import DeliveryPolicy

STORE_PATH = "/fhir"
SERVICE_CLIENT = "carebot-service"
SYSTEM_SCOPES = "system/*.*"
PATIENT_SCOPES = "patient/*.*"
STAFF_SCOPES = "user/*.rs"
_TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True)
class FhirConfig:
    """The settings the choice is made from."""

    fhir_url: str = ""
    """An outside FHIR server; empty for the embedded store."""
    fhir_token: str = ""
    """The bearer token for the outside server."""
    secret_key: str = ""
    """The service's secret: the embedded store's access tokens are signed with a key
    derived from it."""
    public_url: str = "http://127.0.0.1:8080"
    """The service's base URL: the embedded store answers as PUBLIC_URL/fhir."""
    subscriptions: DeliveryPolicy | None = None
    """How the embedded store delivers Subscription notifications (None: it does not)."""


@dataclass(frozen=True)
class Claims:
    """Who a token is for: the API client, its SMART scopes, the patient they are bound to,
    the person (an account id) it acts for, and for a staff member their Practitioner."""

    client: str
    scopes: str
    patient: str | None = None
    person: str | None = None
    practitioner: str | None = None


class _Tokens(Protocol):
    def token(self, claims: Claims) -> str:
        """A bearer token for CLAIMS."""
        ...


class _SignedTokens:
    """Short-lived tokens the embedded store verifies with the same key."""

    def __init__(self, key: AccessTokenKey, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._key = key
        self._ttl_s = ttl_s

    def token(self, claims: Claims) -> str:
        """A fresh signed token."""
        return self._key.issue(
            claims.client,
            claims.scopes,
            patient=claims.patient,
            person=claims.person,
            practitioner=claims.practitioner,
            ttl_s=self._ttl_s,
        )


class _ConfiguredToken:
    """The one token configured for an outside server."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self, claims: Claims) -> str:
        """The configured token (the outside server decides what it reaches)."""
        return self._token


class RenewingAuth(httpx.Auth):
    """Bearer auth that takes a fresh token for each request (signed tokens are short lived)."""

    def __init__(self, tokens: _Tokens, claims: Claims) -> None:
        self._tokens = tokens
        self._claims = claims

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the Authorization header."""
        request.headers["Authorization"] = f"Bearer {self._tokens.token(self._claims)}"
        yield request


class FhirAccess:
    """Hands out FHIR clients sharing one httpx client (whose transport reaches the backend)."""

    def __init__(
        self, backend: FhirBackend, base_url: str, http: httpx.AsyncClient, tokens: _Tokens
    ) -> None:
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        self.http = http
        self._tokens = tokens

    def _client(self, auth: httpx.Auth) -> FhirClient:
        return FhirClient(self.base_url, http=self.http, auth=auth)

    def system_auth(self, scopes: str = SYSTEM_SCOPES, client: str = SERVICE_CLIENT) -> httpx.Auth:
        """Auth for the service's own work (workers, seeding, the simulated gateway): a fresh
        system token on every request."""
        return RenewingAuth(self._tokens, Claims(client, scopes))

    def system_token(self, scopes: str = SYSTEM_SCOPES, client: str = SERVICE_CLIENT) -> str:
        """One system bearer token (short lived with the embedded store: prefer
        `system_auth` for anything that runs longer than a few minutes)."""
        return self._tokens.token(Claims(client, scopes))

    def system(self, scopes: str = SYSTEM_SCOPES) -> FhirClient:
        """A client with the service's system scopes."""
        return self._client(self.system_auth(scopes))

    def for_patient(
        self, patient: str, *, person: str | None, client: str = SERVICE_CLIENT
    ) -> FhirClient:
        """A client confined to PATIENT's compartment, acting for PERSON (an account id,
        named in the store's AuditEvents; None when no person asks, e.g. an operator's CLI)."""
        reference = patient if patient.startswith("Patient/") else f"Patient/{patient}"
        claims = Claims(client, PATIENT_SCOPES, patient=reference, person=person)
        return self._client(RenewingAuth(self._tokens, claims))

    def for_staff(
        self, practitioner: str, *, person: str, client: str = SERVICE_CLIENT
    ) -> FhirClient:
        """A read-only client for a staff member (PERSON, their account id, named in the
        store's AuditEvents with PRACTITIONER) that sees only their patients: those whose
        `generalPractitioner` is PRACTITIONER (`Practitioner/id` or the id)."""
        reference = (
            practitioner
            if practitioner.startswith("Practitioner/")
            else f"Practitioner/{practitioner}"
        )
        claims = Claims(client, STAFF_SCOPES, person=person, practitioner=reference)
        return self._client(RenewingAuth(self._tokens, claims))

    async def aclose(self) -> None:
        """Close the shared httpx client."""
        await self.http.aclose()


class FhirService:
    """The backend chosen once from CONFIG, the embedded store's app, and the access to it."""

    def __init__(self, config: FhirConfig, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.config = config
        self.backend = get_default_backend(config.fhir_url)
        self.store_app: web.Application | None = None
        self._key: AccessTokenKey | None = None
        if self.backend is FhirBackend.EMBEDDED:
            self._key = AccessTokenKey(config.secret_key)
            self.store_app = create_fhir_app(
                sessions, access_key=self._key, subscriptions=config.subscriptions
            )

    @property
    def subscriptions(self) -> SubscriptionEngine | None:
        """The embedded store's Subscription engine, for the service's worker host to run
        (None: an outside server, or no delivery configured)."""
        if self.store_app is None or SUBSCRIPTIONS_KEY not in self.store_app:
            return None
        return self.store_app[SUBSCRIPTIONS_KEY]

    @property
    def access_key(self) -> AccessTokenKey | None:
        """The embedded store's access-token key (None for an outside server): the SMART
        token endpoint signs with it."""
        return self._key

    def mount(self, app: web.Application) -> None:
        """Serve the embedded store at /fhir of APP (nothing for an outside server)."""
        if self.store_app is not None:
            app.add_subapp(STORE_PATH, self.store_app)

    def open(self) -> FhirAccess:
        """The access, once the app the store is mounted in has started."""
        if self.store_app is None or self._key is None:
            return FhirAccess(
                self.backend,
                self.config.fhir_url,
                httpx.AsyncClient(timeout=_TIMEOUT),
                _ConfiguredToken(self.config.fhir_token),
            )
        transport = AiohttpAppTransport(self.store_app, client_max_size=MAX_BODY)
        return FhirAccess(
            self.backend,
            f"{self.config.public_url.rstrip('/')}{STORE_PATH}",
            httpx.AsyncClient(transport=transport, timeout=_TIMEOUT),
            _SignedTokens(self._key),
        )


@asynccontextmanager
async def standalone_access(
    config: FhirConfig, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FhirAccess]:
    """For a process that is not the service (a CLI): the embedded store runs here, in
    process, on SESSIONS' database (no server, no socket); or the outside server."""
    # the service delivers Subscription notifications; a command borrowing its store does not
    service = FhirService(replace(config, subscriptions=None), sessions)
    root = web.Application(client_max_size=MAX_BODY)
    service.mount(root)
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()  # startup and cleanup signals, no site: nothing listens
    access = service.open()
    try:
        yield access
    finally:
        await access.aclose()
        await runner.cleanup()
