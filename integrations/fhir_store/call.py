"""What every interaction of the store's REST API is given: the `Call` (request, store,
settings, base URL, caller), the app keys, and the FHIR JSON answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from integrations.fhir_store.access import Access, access_for, authorize
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.fhir_store.bundle_workers import BundleWorkers
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.scopes import Action, Grant
from integrations.fhir_store.store import FhirStore

FHIR_JSON = "application/fhir+json"
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoreSettings:
    """Options of one mounted store."""

    require_auth: bool = True
    max_body: int = MAX_BODY
    access_key: AccessTokenKey | None = None


STORE_KEY = web.AppKey("fhir_store", FhirStore)


SETTINGS_KEY = web.AppKey("fhir_settings", StoreSettings)


WORKERS_KEY = web.AppKey("fhir_bundle_workers", BundleWorkers)


@dataclass
class Call:
    """One request being served: its parsed path, base URL, caller and preferences."""

    request: web.Request
    store: FhirStore
    settings: StoreSettings
    base: str
    parts: list[str]
    grant: Grant | None
    prefer: dict[str, str]

    def require(self, resource_type: str, action: Action) -> None:
        """403 unless the caller may do ACTION on RESOURCE_TYPE (access.authorize)."""
        authorize(self.grant, resource_type, action)

    @property
    def access(self) -> Access:
        """What the caller may see (access.access_for)."""
        return access_for(self.grant)

    @property
    def attempted(self) -> list[str]:
        """The resource the request names (`Type/id`), for the audit of a refusal."""
        parts = self.parts
        if len(parts) >= 2 and parts[0] in STORED_TYPES and parts[1][:1] not in ("_", "$"):
            return [f"{parts[0]}/{parts[1]}"]
        return []


def fhir_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """BODY as `application/fhir+json`."""
    return web.json_response(body, status=status, headers=headers, content_type=FHIR_JSON)


Dispatched = tuple[web.StreamResponse, Action, list[str]]


Handler = Callable[[Call], Awaitable[Dispatched]]


def stored_type(call: Call) -> str:
    """The path's resource type; 404 when the store keeps no such type."""
    rtype = call.request.match_info["type"]
    if rtype not in STORED_TYPES:
        raise StoreError(404, f"resource type {rtype} is not stored here", "not-supported")
    return rtype
