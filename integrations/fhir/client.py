"""An async FHIR R4 REST client typed with `fhir.resources.R4B` models.

    async with httpx.AsyncClient() as http:
        fhir = FhirClient("http://127.0.0.1:8080/fhir", http=http, auth=BearerAuth(token))
        patient = await fhir.read(Patient, "123")
        obs = await fhir.create(observation, if_none_exist="identifier=urn:dev|hr-1")
        async for o in fhir.search(SearchQuery(Observation).where(patient="Patient/123")):
            ...
        latest = await fhir.latest_vitals("Patient/123", ["http://loinc.org|8867-4"])

Errors are `integrations.fhir.errors.FhirError` subclasses carrying the OperationOutcome.
Idempotent requests (GET, PUT, DELETE, and creates guarded by If-None-Exist) are retried on
429 and 503 (and connection errors), honouring Retry-After, with exponential backoff.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.resource import Resource

from integrations.fhir.errors import FhirError, OffBaseUrl, TransportError, error_for
from integrations.fhir.search import SearchQuery

# Retry jitter from its own generator: the shared `random` state stays the caller's (and
# Hypothesis's, which notices when a background request moves it during a test).
_JITTER = random.Random()

T = TypeVar("T", bound=Resource)
FHIR_JSON = "application/fhir+json"
_RETRY_STATUSES = frozenset({429, 503})


def _retry_after(response: httpx.Response, fallback: float) -> float:
    value = response.headers.get("Retry-After")
    if not value:
        return fallback
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return fallback
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _dump(resource: Resource) -> dict[str, Any]:
    return resource.model_dump(mode="json", exclude_none=True)


def _as(cls: type[T], resource: Any) -> T:
    if isinstance(resource, cls):
        return resource
    return cls.model_validate(resource.model_dump(mode="json", exclude_none=True))


def _default_port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def within_base(base_url: str, url: str) -> bool:
    """True when URL is BASE_URL itself or below it: same scheme, host and port, a path under
    the base path, no dot segments (fhir-py's `_build_request_url` rule)."""
    try:
        base, target = httpx.URL(base_url), httpx.URL(url)
    except httpx.InvalidURL:
        return False
    if (target.scheme, target.host.lower(), _default_port(target)) != (
        base.scheme,
        base.host.lower(),
        _default_port(base),
    ):
        return False
    if target.userinfo:
        return False
    path, root = target.raw_path.split(b"?", 1)[0], base.raw_path.rstrip(b"/")
    segments = path.split(b"/")
    if b".." in segments or b"." in segments or b"%2e" in path.lower():
        return False
    return path == root or path.startswith(root + b"/") or (not root and path.startswith(b"/"))


def _version(resource: Resource) -> str | None:
    meta = resource.meta
    return str(meta.versionId) if meta is not None and meta.versionId else None


class FhirClient:
    """Typed FHIR REST calls over an httpx client supplied from outside."""

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.AsyncClient,
        auth: httpx.Auth | None = None,
        max_attempts: int = 4,
        backoff_s: float = 0.2,
        max_wait_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.auth = auth
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s

    # ----- transport --------------------------------------------------------------------
    async def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """Send one request (with retries when idempotent); the response and its JSON.
        OffBaseUrl for an absolute URL outside the base URL (nothing is sent)."""
        url = path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url.lstrip('/')}"
        if not within_base(self.base_url, url):
            raise OffBaseUrl(0, f"refused to send a request outside {self.base_url}")
        all_headers = {"Accept": FHIR_JSON}
        if body is not None:
            all_headers["Content-Type"] = FHIR_JSON
        all_headers.update(headers or {})
        retry = idempotent if idempotent is not None else method in ("GET", "PUT", "DELETE")
        attempts = self.max_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            delay = min(self.max_wait_s, self.backoff_s * 2 ** (attempt - 1))
            delay *= 0.5 + _JITTER.random() / 2
            try:
                response = await self.http.request(
                    method,
                    url,
                    json=body,
                    params=list(params) if params else None,
                    headers=all_headers,
                    auth=self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as error:
                if attempt == attempts:
                    raise TransportError(0, f"{method} {url}: {error!r}") from error
                await asyncio.sleep(delay)
                continue
            if response.status_code in _RETRY_STATUSES and attempt < attempts:
                await asyncio.sleep(min(self.max_wait_s, _retry_after(response, delay)))
                continue
            return response, self._check(response)
        raise AssertionError("unreachable")

    @staticmethod
    def _check(response: httpx.Response) -> dict[str, Any] | None:
        data: dict[str, Any] | None = None
        if response.content:
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            data = parsed if isinstance(parsed, dict) else None
        if response.status_code >= 400:
            outcome = data if data and data.get("resourceType") == "OperationOutcome" else None
            message = response.reason_phrase or "error"
            raise error_for(response.status_code, message, outcome)
        return data

    # ----- instance interactions --------------------------------------------------------
    async def capabilities(self) -> CapabilityStatement:
        """The server's CapabilityStatement."""
        _, data = await self.request_json("GET", "metadata")
        return CapabilityStatement.model_validate(data)

    async def read(self, resource: type[T], resource_id: str) -> T:
        """The current version of RESOURCE/RESOURCE_ID."""
        _, data = await self.request_json("GET", f"{resource.get_resource_type()}/{resource_id}")
        return resource.model_validate(data)

    async def vread(self, resource: type[T], resource_id: str, version_id: str) -> T:
        """One version of a resource."""
        path = f"{resource.get_resource_type()}/{resource_id}/_history/{version_id}"
        _, data = await self.request_json("GET", path)
        return resource.model_validate(data)

    async def _written(
        self, resource: T, response: httpx.Response, data: dict[str, Any] | None
    ) -> T:
        if data is not None and data.get("resourceType") == resource.get_resource_type():
            return type(resource).model_validate(data)
        location = response.headers.get("Location") or response.headers.get("Content-Location")
        if location:
            _, read = await self.request_json(
                "GET", location.split("/_history/")[0] if "://" in location else location
            )
            return type(resource).model_validate(read)
        raise FhirError(response.status_code, "the server returned neither body nor Location")

    async def create(self, resource: T, *, if_none_exist: str | None = None) -> T:
        """Create RESOURCE; with IF_NONE_EXIST (a query string) the one match is returned."""
        headers = {"Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        response, data = await self.request_json(
            "POST",
            resource.get_resource_type(),
            body=_dump(resource),
            headers=headers,
            idempotent=bool(if_none_exist),
        )
        return await self._written(resource, response, data)

    async def update(self, resource: T, *, if_match: str | bool = False) -> T:
        """Update RESOURCE (by its id); IF_MATCH True uses its meta.versionId, or give one."""
        if not resource.id:
            raise ValueError("update needs resource.id")
        headers = {"Prefer": "return=representation"}
        version = _version(resource) if if_match is True else (if_match or None)
        if if_match and not version:
            raise ValueError("If-Match needs a version")
        if version:
            headers["If-Match"] = f'W/"{version}"'
        response, data = await self.request_json(
            "PUT",
            f"{resource.get_resource_type()}/{resource.id}",
            body=_dump(resource),
            headers=headers,
        )
        return await self._written(resource, response, data)

    async def conditional_update(self, resource: T, query: SearchQuery[T] | str) -> T:
        """Update the one resource matching QUERY, or create it if none matches."""
        condition = query if isinstance(query, str) else query.query_string()
        response, data = await self.request_json(
            "PUT",
            f"{resource.get_resource_type()}?{condition}",
            body=_dump(resource),
            headers={"Prefer": "return=representation"},
        )
        return await self._written(resource, response, data)

    async def delete(self, resource: type[Resource], resource_id: str) -> None:
        """Delete a resource (succeeds when it is already gone)."""
        await self.request_json("DELETE", f"{resource.get_resource_type()}/{resource_id}")

    # ----- search and paging ------------------------------------------------------------
    async def search_page(self, query: SearchQuery[T]) -> Bundle:
        """The first page of QUERY as a searchset Bundle."""
        _, data = await self.request_json("GET", query.resource_type, params=query.params())
        return Bundle.model_validate(data)

    async def next_page(self, bundle: Bundle) -> Bundle | None:
        """The page after BUNDLE (its `next` link), or None."""
        url = next((link.url for link in bundle.link or [] if link.relation == "next"), None)
        if url is None:
            return None
        _, data = await self.request_json("GET", str(url))
        return Bundle.model_validate(data)

    async def search_pages_json(
        self, query: SearchQuery[T], *, max_pages: int = 100
    ) -> AsyncIterator[dict[str, Any]]:
        """The searchset pages of QUERY as JSON, as the server sent them (no model parsing:
        for servers that validated what they store, on hot paths), `next` links followed."""
        _, data = await self.request_json("GET", query.resource_type, params=query.params())
        for _ in range(max_pages):
            if data is None:
                return
            yield data
            links = data.get("link")
            url = next(
                (
                    link.get("url")
                    for link in (links if isinstance(links, list) else [])
                    if isinstance(link, dict) and link.get("relation") == "next"
                ),
                None,
            )
            if not isinstance(url, str):
                return
            _, data = await self.request_json("GET", url)

    async def search(self, query: SearchQuery[T]) -> AsyncIterator[T]:
        """Every match of QUERY, following `next` links (included resources are skipped)."""
        page: Bundle | None = await self.search_page(query)
        while page is not None:
            for entry in page.entry or []:
                mode = entry.search.mode if entry.search is not None else "match"
                if entry.resource is not None and mode in (None, "match"):
                    yield _as(query.resource, entry.resource)
            page = await self.next_page(page)

    async def search_all(self, query: SearchQuery[T]) -> list[T]:
        """Every match of QUERY as a list."""
        return [item async for item in self.search(query)]

    async def count(self, query: SearchQuery[T]) -> int:
        """How many resources match QUERY (`_summary=count`)."""
        _, data = await self.request_json(
            "GET", query.resource_type, params=[*query.params(), ("_summary", "count")]
        )
        return int((data or {}).get("total", 0))

    # ----- bundles and history ----------------------------------------------------------
    async def transaction(self, bundle: Bundle) -> Bundle:
        """Post a transaction bundle (all or nothing); the transaction-response."""
        return await self._post_bundle(bundle, "transaction")

    async def batch(self, bundle: Bundle) -> Bundle:
        """Post a batch bundle (entry by entry); the batch-response."""
        return await self._post_bundle(bundle, "batch")

    async def _post_bundle(self, bundle: Bundle, kind: str) -> Bundle:
        if bundle.type != kind:
            raise ValueError(f"Bundle.type must be {kind}")
        _, data = await self.request_json("POST", "", body=_dump(bundle), idempotent=False)
        return Bundle.model_validate(data)

    async def post_bundle_json(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """Post a transaction or batch bundle given as JSON (bulk loads skip model parsing)."""
        _, data = await self.request_json("POST", "", body=bundle, idempotent=False)
        return data or {}

    async def history(
        self,
        resource: type[Resource] | None = None,
        resource_id: str | None = None,
        *,
        since: datetime | str | None = None,
        page_size: int = 100,
        oldest_first: bool = False,
    ) -> AsyncIterator[Bundle]:
        """History pages of the system, a type or one resource; newest first by default."""
        path = "_history"
        if resource is not None:
            path = (
                f"{resource.get_resource_type()}/{resource_id + '/' if resource_id else ''}_history"
            )
        params = [("_count", str(page_size))]
        if since is not None:
            text = since if isinstance(since, str) else since.astimezone(UTC).isoformat()
            params.append(("_since", text))
        if oldest_first:
            params.append(("_sort", "_lastUpdated"))
        _, data = await self.request_json("GET", path, params=params)
        page: Bundle | None = Bundle.model_validate(data)
        while page is not None:
            yield page
            page = await self.next_page(page)

    async def latest_vitals(
        self, patient: str, codes: Sequence[str] = (), max_per_code: int = 1
    ) -> list[Observation]:
        """The newest Observations per code of PATIENT: `$lastn`, else a search per code."""
        params = [("patient", patient), ("max", str(max_per_code))]
        params += [("code", code) for code in codes]
        try:
            _, data = await self.request_json("GET", "Observation/$lastn", params=params)
        except FhirError as error:
            if error.status not in (400, 404, 405, 501) or not codes:
                raise
            found: list[Observation] = []
            for code in codes:
                query = (
                    SearchQuery(Observation)
                    .where(patient=patient, code=code)
                    .sort("-date")
                    .count(max_per_code)
                )
                page = await self.search_page(query)
                found += [
                    _as(Observation, e.resource) for e in page.entry or [] if e.resource is not None
                ]
            return found
        bundle = Bundle.model_validate(data)
        return [_as(Observation, e.resource) for e in bundle.entry or [] if e.resource is not None]


def resource_from_json(data: Mapping[str, Any]) -> Resource:
    """A typed R4B resource from JSON of any type."""
    model = get_fhir_model_class(str(data["resourceType"])).model_validate(dict(data))
    if not isinstance(model, Resource):
        raise TypeError(f"{data['resourceType']} is not a resource")
    return model
