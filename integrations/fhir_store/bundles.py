"""Transaction and batch bundles: atomic all-or-nothing, or entry by entry (async I/O).

A transaction resolves `urn:uuid:` fullUrls to the ids it assigns and rewrites the
references that point at them; it processes DELETE, POST, PUT, then GET (after commit).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.access import Access, access_for, authorize, check_writable
from integrations.fhir_store.dates import format_instant
from integrations.fhir_store.extract import rewrite_references
from integrations.fhir_store.identifier_creates import batched_conditions, find_matches
from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.scopes import Action, Grant
from integrations.fhir_store.store import (
    FhirStore,
    NewResource,
    Stored,
    Writer,
    WriteResult,
    new_id,
    prepare_create,
)
from integrations.fhir_store.validate import validate_resource

# Raises StoreError(403) when the caller may not do ACTION on a resource type.
Authorize = Callable[[str, Action], None]
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "GET": 3}


@dataclass
class Entry:
    """One request entry of a bundle, parsed."""

    index: int
    method: str
    resource_type: str
    resource_id: str | None
    query: str
    full_url: str | None
    resource: dict[str, Any] | None
    if_none_exist: str | None
    if_match: int | None


def parse_if_match(value: object) -> int | None:
    """The version in an If-Match header (`W/"3"`), or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(f"If-Match {value!r} is not a version ETag")
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError as error:
        raise invalid(f"If-Match {value!r} is not a version ETag") from error


def _text(value: object, where: str) -> str | None:
    """VALUE when it is a string (None when absent); anything else is a 400."""
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"{where} must be a string, not {type(value).__name__}")


def _parse_entry(index: int, raw: Any) -> Entry:
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise invalid(f"entry {index} has no request")
    request = raw["request"]
    method = (_text(request.get("method"), f"entry {index}: request.method") or "").upper()
    url = _text(request.get("url"), f"entry {index}: request.url") or ""
    full_url = _text(raw.get("fullUrl"), f"entry {index}: fullUrl")
    if_none_exist = _text(request.get("ifNoneExist"), f"entry {index}: request.ifNoneExist")
    if method not in _ORDER or not url:
        raise invalid(f"entry {index}: method {method!r} or url {url!r} not supported")
    path, _, query = url.partition("?")
    parts = [p for p in path.split("/") if p]
    if "://" in path:
        parts = parts[-2:] if len(parts) >= 2 and parts[-2][:1].isupper() else parts[-1:]
    if not parts:
        raise invalid(f"entry {index}: url {url!r} names no resource type")
    resource_type = parts[0]
    resource_id = parts[1] if len(parts) > 1 else None
    resource = raw.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise invalid(f"entry {index}: {method} needs a resource")
    return Entry(
        index,
        method,
        resource_type,
        resource_id,
        query,
        full_url,
        resource if isinstance(resource, dict) else None,
        if_none_exist,
        parse_if_match(request.get("ifMatch")),
    )


def _action(entry: Entry) -> Action:
    if entry.method == "DELETE":
        return Action.DELETE
    if entry.method == "GET":
        return Action.READ if entry.resource_id else Action.SEARCH
    if entry.method == "POST":
        return Action.CREATE
    return Action.UPDATE


def _status(result: WriteResult) -> str:
    return "201 Created" if result.created else "200 OK"


def _response(stored: Stored, status: str, representation: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "fullUrl": stored.reference,
        "response": {
            "status": status,
            "location": f"{stored.reference}/_history/{stored.version_id}",
            "etag": stored.etag,
            "lastModified": format_instant(stored.last_updated),
        },
    }
    if representation and stored.content is not None:
        entry["resource"] = stored.content
    return entry


def parse_bundle(bundle: Any) -> tuple[str, list[Entry]]:
    """The bundle type and its parsed entries (their resources are not validated yet)."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise invalid("POST to the base URL takes a Bundle")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise invalid(f"Bundle.type must be transaction or batch, not {kind!r}")
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise invalid("Bundle.entry must be a list")
    entries = [_parse_entry(i, raw) for i, raw in enumerate(raw_entries)]
    return kind, entries


def authorizer(grant: Grant | None) -> Authorize:
    """What GRANT's client may do in a bundle (None: a store that requires no token)."""

    def authorize_entry(resource_type: str, action: Action) -> None:
        if resource_type not in STORED_TYPES:
            raise StoreError(
                404, f"resource type {resource_type} is not stored here", "not-supported"
            )
        authorize(grant, resource_type, action)
        if grant is not None and grant.patient is not None:
            raise StoreError(403, "patient tokens cannot post bundles", "forbidden")

    return authorize_entry


async def answer_bundle(
    store: FhirStore, document: Any, grant: Grant | None, representation: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The response Bundle to a transaction or batch DOCUMENT posted by GRANT's client,
    and the references of the resources it wrote."""
    kind, entries = parse_bundle(document)
    allowed, access = authorizer(grant), access_for(grant)
    if kind == "transaction":
        responses = await run_transaction(store, entries, allowed, representation, access=access)
    else:
        responses = await run_batch(store, entries, allowed, representation, access=access)
    bundle = {"resourceType": "Bundle", "type": f"{kind}-response", "entry": responses}
    return bundle, [r["fullUrl"] for r in responses if "fullUrl" in r]


def _check(entry: Entry, allowed: Authorize) -> None:
    """Raise the entry's refusal: authorization first, then its resource's validation."""
    allowed(entry.resource_type, _action(entry))
    if entry.resource is not None:
        validate_resource(entry.resource, entry.resource_type)


async def run_transaction(
    store: FhirStore,
    entries: list[Entry],
    allowed: Authorize,
    representation: bool = False,
    also: Callable[[AsyncSession], Awaitable[None]] | None = None,
    *,
    access: Access,
) -> list[dict[str, Any]]:
    """Apply ENTRIES atomically (and ALSO in the same database transaction); all or nothing.
    Conditions and reads see what ACCESS sees."""
    for entry in entries:
        _check(entry, allowed)  # the first entry's refusal is the transaction's
        if entry.resource is not None:
            check_writable(access, entry.resource)
    mapping: dict[str, str] = {}
    for entry in entries:
        if entry.full_url and entry.method == "POST" and not entry.if_none_exist:
            entry.resource_id = new_id()
            mapping[entry.full_url] = f"{entry.resource_type}/{entry.resource_id}"
        elif entry.full_url and entry.method == "PUT" and entry.resource_id:
            mapping[entry.full_url] = f"{entry.resource_type}/{entry.resource_id}"
    batched = batched_conditions(
        [(e.index, e.method, e.if_none_exist, e.resource) for e in entries]
    )
    creates = _plain_creates(entries, batched is not None)
    prepared = {index: _prepared(entries[index], mapping) for index in creates}
    conditional = {i: _prepared(entries[i], mapping, new_id()) for i in batched or {}}
    responses: dict[int, dict[str, Any]] = {}
    created: dict[int, Stored] = {}  # their responses are written after the lock is let go
    ordered = sorted(entries, key=lambda e: (_ORDER[e.method], e.index))
    async with store.writing() as writer:
        matches = await find_matches(writer, list(batched.values()), access) if batched else {}
        for entry in ordered:
            try:
                if batched and entry.index in batched:
                    key = batched[entry.index]
                    existing = matches.get(key)
                    if existing is not None:
                        responses[entry.index] = _response(existing, "200 OK", representation)
                    else:
                        new, document = conditional[entry.index]
                        matches[key] = created[entry.index] = writer.add_created(
                            new, document
                        ).stored
                    continue
                if entry.index in prepared:
                    new, document = prepared[entry.index]
                    created[entry.index] = writer.add_created(new, document).stored
                    continue
                responses[entry.index] = await _apply(
                    store, writer, entry, mapping, representation, access
                )
            except StoreError as error:
                error.diagnostics = f"entry {entry.index}: {error.diagnostics}"
                raise
        if also is not None:
            await also(writer.session)
    for index, stored in created.items():
        responses[index] = _response(stored, "201 Created", representation)
    for entry in ordered:
        if entry.method == "GET":
            responses[entry.index] = await _get(store, entry, access)
    return [responses[i] for i in range(len(entries))]


def _plain_creates(entries: list[Entry], resolved: bool = False) -> dict[int, str]:
    """The plain creates of a transaction (entry index -> new id), to be prepared before
    its write lock is taken; none when a conditional create can still add a `urn:uuid:`
    target to the mapping (unless its conditions are RESOLVED at once, identifier_creates).
    """
    if not resolved and any(e.full_url and e.if_none_exist for e in entries):
        return {}
    creates: dict[int, str] = {}
    for entry in entries:
        # a Subscription is checked and placed by the writer's own create (writer.py)
        plain = entry.resource is not None and entry.resource_type != "Subscription"
        if entry.method == "POST" and not entry.if_none_exist and plain:
            entry.resource_id = entry.resource_id or new_id()
            creates[entry.index] = entry.resource_id
    return creates


def _prepared(
    entry: Entry, mapping: dict[str, str], resource_id: str | None = None
) -> tuple[NewResource, dict[str, Any]]:
    """A create made ready (with RESOURCE_ID, else the entry's), and the document it was
    made of."""
    rid = resource_id or entry.resource_id
    assert entry.resource is not None and rid is not None
    document = rewrite_references(entry.resource, mapping) if mapping else entry.resource
    return prepare_create(document, rid), document


async def _apply(
    store: FhirStore,
    writer: Writer,
    entry: Entry,
    mapping: dict[str, str],
    representation: bool,
    access: Access,
) -> dict[str, Any]:
    resource = (
        rewrite_references(entry.resource, mapping)
        if entry.resource is not None and mapping
        else entry.resource
    )
    if entry.method == "DELETE":
        if entry.resource_id:
            await writer.delete(entry.resource_type, entry.resource_id, access=access)
        elif entry.query:
            await writer.conditional_delete(entry.resource_type, entry.query, access=access)
        return {"response": {"status": "204 No Content"}}
    if entry.method == "GET":
        return {}
    assert resource is not None
    if entry.method == "POST":
        result = await writer.create(
            resource, entry.if_none_exist, entry.resource_id, access=access
        )
        if entry.full_url and entry.if_none_exist:
            mapping[entry.full_url] = result.stored.reference
    elif entry.resource_id:
        result = await writer.update(
            entry.resource_type, entry.resource_id, resource, entry.if_match, access=access
        )
    else:
        result = await writer.conditional_update(
            entry.resource_type, entry.query, resource, access=access
        )
    return _response(result.stored, _status(result), representation)


async def _get(store: FhirStore, entry: Entry, access: Access) -> dict[str, Any]:
    try:
        if entry.resource_id is None:
            raise invalid("GET entries must read one resource")
        stored = await store.read(entry.resource_type, entry.resource_id, access=access)
        return _response(stored, "200 OK", True)
    except StoreError as error:
        return {"response": {"status": str(error.status), "outcome": error.outcome()}}


async def run_batch(
    store: FhirStore,
    entries: list[Entry],
    allowed: Authorize,
    representation: bool = False,
    *,
    access: Access,
) -> list[dict[str, Any]]:
    """Apply each entry on its own; a failing entry gets its OperationOutcome."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        try:
            _check(entry, allowed)
            if entry.method == "GET":
                out.append(await _get(store, entry, access))
                continue
            async with store.writing() as writer:
                response = await _apply(store, writer, entry, {}, representation, access)
            out.append(response)
        except StoreError as error:
            out.append({"response": {"status": str(error.status), "outcome": error.outcome()}})
    return out
