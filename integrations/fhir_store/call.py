"""What every interaction of the store's REST API is given: the `Call` (request, store,
settings, base URL, caller), the app keys, and the FHIR JSON answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from integrations.fhir_store.access import Access, access_for, authorize
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.fhir_store.bundle_workers import BundleWorkers
from integrations.fhir_store.outcome import StoreError, operation_outcome
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.scopes import Action, Grant
from integrations.fhir_store.store import FhirStore, Stored
from integrations.fhir_store.validate import parse_json

FHIR_JSON = "application/fhir+json"
JSON_BODIES = (FHIR_JSON, "application/json")
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


async def read_json(call: Call, content_types: tuple[str, ...] = JSON_BODIES) -> Any:
    """The request's JSON body (of one of CONTENT_TYPES)."""
    return parse_json(await body_bytes(call, content_types))


async def body_bytes(call: Call, content_types: tuple[str, ...] = JSON_BODIES) -> bytes:
    """The request body, of one of CONTENT_TYPES (else 415) and within the size limit (413)."""
    settings = call.settings
    content_type = call.request.content_type
    if content_type not in content_types:
        raise StoreError(415, f"unsupported content type {content_type!r}", "not-supported")
    if call.request.content_length is not None and call.request.content_length > settings.max_body:
        raise StoreError(413, f"body larger than {settings.max_body} bytes", "too-costly")
    chunks: list[bytes] = []
    size = 0
    async for chunk in call.request.content.iter_chunked(65536):
        size += len(chunk)
        if size > settings.max_body:
            raise StoreError(413, f"body larger than {settings.max_body} bytes", "too-costly")
        chunks.append(chunk)
    return b"".join(chunks)


def resource_headers(stored: Stored, base: str) -> dict[str, str]:
    """ETag, Last-Modified and Location of a stored version."""
    return {
        "ETag": stored.etag,
        "Last-Modified": format_datetime(stored.last_updated.replace(tzinfo=UTC), usegmt=True),
        "Location": f"{base}/{stored.reference}/_history/{stored.version_id}",
    }


def write_response(call: Call, stored: Stored, status: int) -> web.Response:
    """The answer to a write, as the caller's `Prefer: return=` asks."""
    headers = resource_headers(stored, call.base)
    mode = call.prefer.get("return", "representation")
    if mode == "minimal":
        return web.Response(status=status, headers=headers)
    if mode == "operationoutcome":
        return fhir_json(operation_outcome("information", "informational", "ok"), status, headers)
    return fhir_json(stored.content, status, headers)
