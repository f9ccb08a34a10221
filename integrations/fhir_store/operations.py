"""Operations on types and instances: `Patient/[id]/$everything` and `$validate`.

`$validate` (type or instance level) answers 200 with an OperationOutcome: no error issue
when the resource would be accepted, else the first problem the store's validation finds
(validate.py). An instance-level `$validate` without a body checks the stored version; with
one, the body as an update of that resource. It writes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from integrations.fhir_store.call import Call, Dispatched, fhir_json, read_json, stored_type
from integrations.fhir_store.dates import DateFormatError, parse_instant
from integrations.fhir_store.everything import patient_everything
from integrations.fhir_store.outcome import StoreError, invalid, operation_outcome
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.query import DEFAULT_COUNT, MAX_COUNT, bounded_int
from integrations.fhir_store.scopes import Action
from integrations.fhir_store.validate import validate_resource

_EVERYTHING_PARAMS = frozenset({"_since", "_type", "_count", "_getpagesoffset", "_format"})


def _types(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    types = frozenset(t for t in raw.split(",") if t)
    unknown = sorted(types - STORED_TYPES)
    if unknown or not types:
        raise invalid(f"_type names types not stored here: {unknown or raw!r}")
    return types


async def everything(call: Call) -> Dispatched:
    """GET `/Patient/[id]/$everything` (`_since`, `_type`, `_count`), paged."""
    call.require("Patient", Action.READ)
    pid = call.request.match_info["id"]
    query = call.request.query
    unknown = set(query) - _EVERYTHING_PARAMS
    if unknown and call.prefer.get("handling") != "lenient":
        raise invalid(f"$everything does not take {sorted(unknown)}")
    try:
        since = parse_instant(query["_since"]) if "_since" in query else None
    except DateFormatError as error:
        raise invalid(f"_since: {error}") from error
    types = _types(query.get("_type"))
    count = bounded_int("_count", query.get("_count", str(DEFAULT_COUNT)), 1, MAX_COUNT)
    offset = bounded_int("_getpagesoffset", query.get("_getpagesoffset", "0"), 0, 10**9)
    found, more = await patient_everything(
        call.store, pid, types, since, count, offset, access=call.access
    )
    path = f"{call.base}/Patient/{pid}/$everything"
    kept = [(k, v) for k, v in query.items() if k != "_getpagesoffset"]
    links = [{"relation": "self", "url": f"{path}?{urlencode(list(query.items()))}"}]
    if more:
        next_query = urlencode([*kept, ("_getpagesoffset", str(offset + count))])
        links.append({"relation": "next", "url": f"{path}?{next_query}"})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {
                "fullUrl": f"{call.base}/{s.reference}",
                "resource": s.content,
                "search": {"mode": "match"},
            }
            for s in found
        ],
    }
    if not more and offset == 0:
        bundle["total"] = len(found)
    return fhir_json(bundle), Action.READ, [s.reference for s in found]


def _require_some(call: Call, rtype: str) -> None:
    """403 unless the caller may do something with RTYPE (validation writes nothing)."""
    refusal: StoreError | None = None
    for action in (Action.CREATE, Action.UPDATE, Action.READ):
        try:
            call.require(rtype, action)
            return
        except StoreError as error:
            refusal = error
    assert refusal is not None
    raise refusal


def _resource_of(body: Any) -> Any:
    """The resource to validate: the body, or its Parameters' `resource` part."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        parts = [p for p in body.get("parameter") or [] if isinstance(p, dict)]
        resources = [p.get("resource") for p in parts if p.get("name") == "resource"]
        if len(resources) != 1:
            raise invalid("$validate takes one resource parameter")
        return resources[0]
    return body


def _outcome_of(document: Any, rtype: str) -> dict[str, Any]:
    try:
        validate_resource(document, rtype)
    except StoreError as error:
        if error.status != 400:
            raise
        return error.outcome()
    return operation_outcome("information", "informational", "the resource is valid")


async def validate_type(call: Call) -> Dispatched:
    """POST `/Type/$validate`: would this resource be accepted?"""
    rtype = stored_type(call)
    _require_some(call, rtype)
    document = _resource_of(await read_json(call))
    return fhir_json(_outcome_of(document, rtype)), Action.READ, []


async def validate_instance(call: Call) -> Dispatched:
    """POST `/Type/id/$validate`: the body as an update of that resource, or the stored
    version when there is no body."""
    rtype = stored_type(call)
    rid = call.request.match_info["id"]
    _require_some(call, rtype)
    stored = await call.store.read(rtype, rid, access=call.access)
    if call.request.can_read_body:
        document = _resource_of(await read_json(call))
        if isinstance(document, dict) and document.get("id") != rid:
            outcome = operation_outcome(
                "error", "invalid", f"the resource's id must be {rid!r} to update it"
            )
            return fhir_json(outcome), Action.READ, [stored.reference]
    else:
        document = stored.content
    return fhir_json(_outcome_of(document, rtype)), Action.READ, [stored.reference]
