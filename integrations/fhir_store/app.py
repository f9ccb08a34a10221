"""The FHIR R4 REST API of the embedded store as an aiohttp application.

    app = create_fhir_app(sessionmaker)          # closed: bearer tokens of registered clients
    main_app.add_subapp("/fhir", app)

Interactions: `/metadata`; read, vread, create (If-None-Exist, or criteria in the URL),
update (If-Match), patch (patching.py), conditional update, patch and delete; type search (GET, POST `_search`); instance, type and system
`_history` (`_since`, `_count`, `_sort=_lastUpdated` for commit order); transaction and
batch bundles at the base; `Observation/$lastn?patient=&code=&max=`; `Patient/[id]/$everything`
and `$validate` (operations.py); Bulk Data `$export` (bulk.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from integrations.fhir_store import searches
from integrations.fhir_store.access_tokens import AccessTokenKey, looks_signed
from integrations.fhir_store.audit import audit_event
from integrations.fhir_store.bulk import (
    EXPORTS_KEY,
    export_cancel,
    export_file,
    export_patients,
    export_status,
    export_system,
)
from integrations.fhir_store.bundle_workers import BundleWorkers, shared_database_url
from integrations.fhir_store.bundles import answer_bundle, parse_if_match
from integrations.fhir_store.call import (
    FHIR_JSON,
    MAX_BODY,
    SETTINGS_KEY,
    STORE_KEY,
    WORKERS_KEY,
    Call,
    Dispatched,
    Handler,
    StoreSettings,
    body_bytes,
    fhir_json,
    read_json,
    resource_headers,
    stored_type,
    write_response,
)
from integrations.fhir_store.capability import capability_statement
from integrations.fhir_store.clients import authenticate
from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.export import Exports
from integrations.fhir_store.operations import everything, validate_instance, validate_type
from integrations.fhir_store.outcome import StoreError, invalid, operation_outcome
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.patching import patch_conditional, patch_instance
from integrations.fhir_store.scopes import Action, Grant
from integrations.fhir_store.smart_config import SMART_PATH, smart_configuration
from integrations.fhir_store.store import FhirStore, utcnow
from integrations.fhir_store.subscription_delivery import SubscriptionEngine
from integrations.fhir_store.subscription_rules import DeliveryPolicy
from integrations.fhir_store.validate import parse_json, validate_resource
from integrations.persistence.feed_cursor import claim_strategy

__all__ = [
    "FHIR_JSON",
    "MAX_BODY",
    "SETTINGS_KEY",
    "STORE_KEY",
    "SUBSCRIPTIONS_KEY",
    "WORKERS_KEY",
    "StoreSettings",
    "create_fhir_app",
]

SUBSCRIPTIONS_KEY = web.AppKey("fhir_subscriptions", SubscriptionEngine)

log = logging.getLogger(__name__)
# what anyone may read without a token: how to talk to the store and how to get a token
_OPEN_PATHS = (["metadata"], [".well-known", "smart-configuration"])


def create_fhir_app(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    require_auth: bool = True,
    max_body: int = MAX_BODY,
    access_key: AccessTokenKey | None = None,
    subscriptions: DeliveryPolicy | None = None,
    export_dir: Path | None = None,
) -> web.Application:
    """The FHIR REST API over SESSIONMAKER's database (migrated with the `fhir` branch);
    with ACCESS_KEY it also takes the service's signed access tokens; with SUBSCRIPTIONS it
    has a Subscription engine (`SUBSCRIPTIONS_KEY`) for its host to run: the service's and
    `carebot fhir`'s store have one, a command-line process borrowing the store none. Bulk
    exports write their files under EXPORT_DIR (a temporary directory when None)."""
    app = web.Application(client_max_size=max_body)
    store = app[STORE_KEY] = FhirStore(sessionmaker)
    app[SETTINGS_KEY] = StoreSettings(require_auth, max_body, access_key)
    engine = sessionmaker.kw.get("bind")
    shared = shared_database_url(engine) if isinstance(engine, AsyncEngine) else None
    app[WORKERS_KEY] = BundleWorkers(shared)  # its workers start with the first big bundle
    app[EXPORTS_KEY] = Exports(export_dir)
    app.on_cleanup.append(_close_workers)
    if subscriptions is not None and isinstance(engine, AsyncEngine):
        url = engine.url.render_as_string(hide_password=True)
        # run by its host: the service's worker host, or `carebot fhir` (delivery_ctx)
        app[SUBSCRIPTIONS_KEY] = SubscriptionEngine(store, claim_strategy(url), subscriptions)
    for method, path, handler in _ROUTES:
        app.router.add_route(method, path, _serving(handler, path))
    return app


async def _close_workers(app: web.Application) -> None:
    await app[EXPORTS_KEY].close()
    await app[WORKERS_KEY].close()


def _error(error: StoreError) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="fhir"'} if error.status == 401 else None
    return fhir_json(error.outcome(), error.status, headers)


def _prefer(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip().strip('"')
    return out


def _base_path(request: web.Request, path: str) -> str:
    """The path the store is mounted at: the request's path less the route's own PATH."""
    if path.startswith("/{tail"):
        tail = request.match_info["tail"]
        return request.path[: len(request.path) - len(tail)].rstrip("/")
    segments = path.count("/") if path.strip("/") else 0
    base = request.path.rstrip("/")
    return base.rsplit("/", segments)[0] if segments else base


_METHOD_ACTIONS = {
    "POST": Action.CREATE,
    "PUT": Action.UPDATE,
    "PATCH": Action.UPDATE,
    "DELETE": Action.DELETE,
}


def _serving(handler: Handler, path: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """HANDLER behind the store's authentication, error answers and audit."""

    async def serve(request: web.Request) -> web.StreamResponse:
        base_path = _base_path(request, path)
        store = request.app[STORE_KEY]
        settings = request.app[SETTINGS_KEY]
        call = Call(
            request,
            store,
            settings,
            f"{request.scheme}://{request.host}{base_path}",
            [p for p in request.path[len(base_path) :].split("/") if p],
            None,
            _prefer(request.headers.get("Prefer", "")),
        )
        # what a refused request is audited as; a served one says what it did
        action = _METHOD_ACTIONS.get(request.method, Action.READ)
        if request.path.endswith("/_search"):
            action = Action.SEARCH
        targets: list[str] = []
        status = 500
        try:
            if call.parts not in _OPEN_PATHS and settings.require_auth:
                call.grant = await _authenticate(request, store, settings.access_key)
            response, action, targets = await handler(call)
            status = response.status
            return response
        except StoreError as error:
            status = error.status
            targets = call.attempted
            return _error(error)
        except Exception:
            # the route's template, never the path: ids of patients stay out of the log
            log.exception("FHIR request failed: %s %s", request.method, path or "/")
            return fhir_json(operation_outcome("fatal", "exception", "internal error"), 500)
        finally:
            if call.grant is not None and call.grant.audited:
                await _audit(store, call.grant, action, targets, status, request.query_string)

    return serve


async def _audit(
    store: FhirStore, grant: Grant, action: Action, targets: list[str], status: int, query: str
) -> None:
    try:
        await store.record_audit(audit_event(grant, action, targets, status, query))
    except Exception:
        log.exception("could not record an AuditEvent")


async def _authenticate(
    request: web.Request, store: FhirStore, access_key: AccessTokenKey | None
) -> Grant:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise StoreError(401, "a bearer token is required", "login")
    if looks_signed(token):
        grant = access_key.verify(token) if access_key is not None else None
    else:
        grant = await authenticate(store.sessionmaker, token)
    if grant is None:
        raise StoreError(401, "unknown, expired or revoked token", "login")
    return grant


async def _base(call: Call) -> Dispatched:
    if call.request.method != "POST":
        raise StoreError(405, "the base URL takes POST of a transaction or batch", "not-supported")
    return await _bundle(call)


def _origin(call: Call) -> str:
    return f"{call.request.scheme}://{call.request.host}"


async def _metadata(call: Call) -> Dispatched:
    path = call.request.app.get(SMART_PATH)
    smart = (_origin(call), path) if path is not None else (None, None)
    cap = capability_statement(call.base, format_instant(utcnow()), smart)
    return fhir_json(cap), Action.READ, []


async def _smart_configuration(call: Call) -> Dispatched:
    path = call.request.app.get(SMART_PATH)
    if path is None:
        raise StoreError(404, "this store has no SMART authorization server", "not-found")
    return web.json_response(smart_configuration(_origin(call), path)), Action.READ, []


async def _read(call: Call) -> Dispatched:
    rtype = stored_type(call)
    call.require(rtype, Action.READ)
    stored = await call.store.read(rtype, call.request.match_info["id"], access=call.access)
    return (
        fhir_json(stored.content, 200, resource_headers(stored, call.base)),
        Action.READ,
        searches.audited_targets([stored]),
    )


async def _vread(call: Call) -> Dispatched:
    rtype = stored_type(call)
    call.require(rtype, Action.READ)
    match = call.request.match_info
    try:
        version = int(match["version"])
    except ValueError as error:
        raise invalid(f"version {match['version']!r} is not a number") from error
    stored = await call.store.vread(rtype, match["id"], version, access=call.access)
    return (
        fhir_json(stored.content, 200, resource_headers(stored, call.base)),
        Action.READ,
        [stored.reference],
    )


async def _unrouted(call: Call) -> Dispatched:
    """What no route takes: an unknown type is a 404, anything else a 405."""
    parts = call.parts
    if parts and parts[0] not in STORED_TYPES:
        raise StoreError(404, f"resource type {parts[0]} is not stored here", "not-supported")
    method = call.request.method
    raise StoreError(405, f"{method} /{'/'.join(parts)} is not supported", "not-supported")


async def _create(call: Call) -> Dispatched:
    rtype = stored_type(call)
    call.require(rtype, Action.CREATE)
    document = validate_resource(await read_json(call), rtype)
    document = {k: v for k, v in document.items() if k != "id"}
    document["resourceType"] = rtype
    # fhirpy's conditional create puts its criteria in the URL (`POST /Patient?identifier=`)
    criteria = [k for k in call.request.query if k not in ("_format", "_pretty")]
    condition = call.request.headers.get("If-None-Exist") or (
        call.request.query_string if criteria else None
    )
    if condition:
        call.require(rtype, Action.SEARCH)
    result = await call.store.create(document, condition, access=call.access)
    status = 201 if result.created else 200
    return write_response(call, result.stored, status), Action.CREATE, [result.stored.reference]


async def _update(call: Call) -> Dispatched:
    rtype = stored_type(call)
    rid = call.request.match_info["id"]
    call.require(rtype, Action.UPDATE)
    document = validate_resource(await read_json(call), rtype)
    if document.get("id") != rid:
        raise invalid(f"the body's id {document.get('id')!r} does not match the URL id {rid!r}")
    if_match = parse_if_match(call.request.headers.get("If-Match"))
    result = await call.store.update(rtype, rid, document, if_match, access=call.access)
    status = 201 if result.created else 200
    return write_response(call, result.stored, status), Action.UPDATE, [result.stored.reference]


async def _conditional_update(call: Call) -> Dispatched:
    rtype = stored_type(call)
    call.require(rtype, Action.UPDATE)
    call.require(rtype, Action.SEARCH)
    query = call.request.query_string
    if not query:
        raise invalid("conditional update needs search criteria")
    document = validate_resource(await read_json(call), rtype)
    result = await call.store.conditional_update(rtype, query, document, access=call.access)
    status = 201 if result.created else 200
    return write_response(call, result.stored, status), Action.UPDATE, [result.stored.reference]


async def _delete(call: Call) -> Dispatched:
    rtype = stored_type(call)
    rid = call.request.match_info["id"]
    call.require(rtype, Action.DELETE)
    stored = await call.store.delete(rtype, rid, access=call.access)
    headers = {"ETag": stored.etag} if stored is not None else None
    return web.Response(status=204, headers=headers), Action.DELETE, [f"{rtype}/{rid}"]


async def _conditional_delete(call: Call) -> Dispatched:
    rtype = stored_type(call)
    call.require(rtype, Action.DELETE)
    call.require(rtype, Action.SEARCH)
    if not call.request.query_string:
        raise invalid("conditional delete needs search criteria")
    await call.store.conditional_delete(rtype, call.request.query_string, access=call.access)
    return web.Response(status=204), Action.DELETE, []


async def _bundle(call: Call) -> Dispatched:
    body = await body_bytes(call)
    representation = call.prefer.get("return") == "representation"
    answer = await call.request.app[WORKERS_KEY].answer(body, call.grant, representation)
    if answer is None:
        bundle, targets = await answer_bundle(
            call.store, parse_json(body), call.grant, representation
        )
        return fhir_json(bundle), Action.CREATE, targets
    answer.raise_refusal()
    call.store.written()  # a bundle worker wrote it: this process's followers wake
    response = web.Response(body=answer.body, content_type=FHIR_JSON, charset="utf-8")
    return response, Action.CREATE, list(answer.targets)


# Plain paths before the patterns that would also match them; a path that matches a route
# but not its method goes on to the next route, and what none takes reaches `_unrouted`.
_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("*", "", _base),  # the base URL itself, without a trailing slash
    ("*", "/", _base),
    ("GET", "/metadata", _metadata),
    ("GET", "/.well-known/smart-configuration", _smart_configuration),
    ("GET", "/_history", searches.system_history),
    ("GET", "/Observation/$lastn", searches.lastn),
    ("GET", "/$export", export_system),
    ("GET", "/Patient/$export", export_patients),
    ("GET", "/$export-status/{job}", export_status),
    ("DELETE", "/$export-status/{job}", export_cancel),
    ("GET", "/$export-file/{job}/{file}", export_file),
    ("GET", "/{type}", searches.search_get),
    ("POST", "/{type}", _create),
    ("PUT", "/{type}", _conditional_update),
    ("DELETE", "/{type}", _conditional_delete),
    ("PATCH", "/{type}", patch_conditional),
    ("POST", "/{type}/_search", searches.search_post),
    ("POST", "/{type}/$validate", validate_type),
    ("GET", "/{type}/_history", searches.type_history),
    ("GET", "/{type}/{id}", _read),
    ("PUT", "/{type}/{id}", _update),
    ("DELETE", "/{type}/{id}", _delete),
    ("PATCH", "/{type}/{id}", patch_instance),
    ("GET", "/Patient/{id}/$everything", everything),
    ("GET", "/{type}/{id}/$validate", validate_instance),
    ("POST", "/{type}/{id}/$validate", validate_instance),
    ("GET", "/{type}/{id}/_history", searches.instance_history),
    ("GET", "/{type}/{id}/_history/{version}", _vread),
    ("*", "/{tail:.*}", _unrouted),
)
