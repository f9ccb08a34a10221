"""FHIR clients for the service: one for system work, and patient-bound ones.

With the embedded store, a patient's turn talks FHIR with a token bound to that patient
(`patient/*.*`), so the store itself refuses anything outside the patient's compartment and
leaves an AuditEvent for every access. With an outside server the configured token is used.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir.auth import BearerAuth
from integrations.fhir.client import FhirClient
from integrations.fhir_store.clients import ensure_client

SERVICE_CLIENT = "carebot-service"


class FhirTokens(Protocol):
    """Bearer tokens for the FHIR server."""

    async def system_token(self) -> str:
        """A token with system scopes."""
        ...

    async def patient_token(self, patient_reference: str) -> str:
        """A token that reaches only PATIENT_REFERENCE's compartment."""
        ...


class EmbeddedStoreTokens:
    """Tokens of clients registered in the embedded store, made once per process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._tokens: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def _token(self, name: str, scopes: str, patient: str | None) -> str:
        async with self._lock:
            if name not in self._tokens:
                self._tokens[name] = await ensure_client(self._sessions, name, scopes, patient)
            return self._tokens[name]

    async def system_token(self) -> str:
        """The service's own system client."""
        return await self._token(SERVICE_CLIENT, "system/*.*", None)

    async def patient_token(self, patient_reference: str) -> str:
        """A client bound to one patient, acting on that patient's behalf."""
        name = f"carebot-patient-{patient_reference.rsplit('/', 1)[-1]}"
        return await self._token(name, "patient/*.*", patient_reference)


class StaticTokens:
    """One configured token for an outside FHIR server."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def system_token(self) -> str:
        """The configured token."""
        return self._token

    async def patient_token(self, patient_reference: str) -> str:
        """The configured token (the outside server decides what it reaches)."""
        return self._token


class FhirAccess:
    """Hands out FHIR clients that share one connection pool."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, tokens: FhirTokens) -> None:
        self.base_url = base_url
        self._http = http
        self._tokens = tokens

    async def system(self) -> FhirClient:
        """A client with the service's system scopes (workers, seeding)."""
        return FhirClient(
            self.base_url, http=self._http, auth=BearerAuth(await self._tokens.system_token())
        )

    async def for_patient(self, patient_reference: str) -> FhirClient:
        """A client acting for one patient."""
        token = await self._tokens.patient_token(patient_reference)
        return FhirClient(self.base_url, http=self._http, auth=BearerAuth(token))
