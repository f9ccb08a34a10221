"""The interactions that return many resources: search (GET and POST `_search`),
`Observation/$lastn`, and instance, type and system `_history`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from integrations.fhir_store.call import Call, Dispatched, fhir_json, stored_type
from integrations.fhir_store.dates import DateFormatError, format_instant, parse_instant
from integrations.fhir_store.extract import compartment_patient
from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.query import MAX_COUNT, SearchPlan, bounded_int, build_plan
from integrations.fhir_store.scopes import Action
from integrations.fhir_store.shaping import shape
from integrations.fhir_store.store import Stored


async def system_history(call: Call) -> Dispatched:
    """GET `/_history`: every change, for a caller whose scopes read every type."""
    return await history(call, None, None)


async def type_history(call: Call) -> Dispatched:
    """GET `/Type/_history`."""
    return await history(call, stored_type(call), None)


async def instance_history(call: Call) -> Dispatched:
    """GET `/Type/id/_history`."""
    rtype = stored_type(call)
    return await history(call, rtype, call.request.match_info["id"])


async def search_get(call: Call) -> Dispatched:
    """GET `/Type?params`."""
    return await search(call, stored_type(call), list(call.request.query.items()))


async def search_post(call: Call) -> Dispatched:
    """POST `/Type/_search`: the parameters of the URL and of the form body."""
    rtype = stored_type(call)
    return await search(call, rtype, list(call.request.query.items()) + await _form(call))


async def _form(call: Call) -> list[tuple[str, str]]:
    """The parameters of a `_search` form body; a body that is not UTF-8 is a 400."""
    try:
        text = (await call.request.read()).decode()
    except UnicodeDecodeError as error:
        raise invalid(f"the form body is not UTF-8: {error.reason}") from error
    return parse_qsl(text, keep_blank_values=True)


def _entry(
    call: Call, stored: Stored, mode: str | None = None, plan: SearchPlan | None = None
) -> dict[str, Any]:
    content = stored.content
    if plan is not None and content is not None:
        content = shape(content, plan.summary, plan.elements)
    entry: dict[str, Any] = {"fullUrl": f"{call.base}/{stored.reference}", "resource": content}
    if mode:
        entry["search"] = {"mode": mode}
    return entry


def _page_link(call: Call, path: str, params: list[tuple[str, str]], offset: int) -> str:
    kept = [(k, v) for k, v in params if k != "_getpagesoffset"]
    kept.append(("_getpagesoffset", str(offset)))
    return f"{call.base}/{path}?{urlencode(kept)}"


def audited_targets(seen: list[Stored]) -> list[str]:
    """What an access's AuditEvent names: the patients whose records were seen first (an
    AuditEvent keeps 50 entities; `patient=` then finds it), then each resource."""
    references = [s.reference for s in seen]
    patients = {compartment_patient(s.content) for s in seen if s.content is not None}
    return sorted({p for p in patients if p is not None} - set(references)) + references


async def search(call: Call, rtype: str, params: list[tuple[str, str]]) -> Dispatched:
    """A searchset of RTYPE for PARAMS, paged, with its `_include`d resources."""
    call.require(rtype, Action.SEARCH)
    lenient = call.prefer.get("handling") == "lenient"
    plan = build_plan(rtype, params, lenient)
    result = await call.store.search(plan, access=call.access)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None and not plan.total_none:
        bundle["total"] = result.total
    links = [{"relation": "self", "url": f"{call.base}/{rtype}?{urlencode(params)}"}]
    if result.has_more:
        links.append(
            {"relation": "next", "url": _page_link(call, rtype, params, plan.offset + plan.count)}
        )
    bundle["link"] = links
    if not plan.summary_count:
        bundle["entry"] = [_entry(call, s, "match", plan) for s in result.matches] + [
            _entry(call, s, "include", plan) for s in result.included
        ]
    # the audit names what the answer showed: matches and included resources alike
    return fhir_json(bundle), Action.SEARCH, audited_targets(result.matches + result.included)


async def lastn(call: Call) -> Dispatched:
    """GET `/Observation/$lastn`: the newest Observations of a patient per code."""
    call.require("Observation", Action.SEARCH)
    query = call.request.query
    unknown = set(query) - {"patient", "subject", "code", "category", "max", "_count"}
    if unknown and call.prefer.get("handling") != "lenient":
        raise invalid(f"$lastn does not take {sorted(unknown)}")
    patient = query.get("patient") or query.get("subject")
    if not patient:
        raise invalid("$lastn needs patient")
    patient = patient if "/" in patient else f"Patient/{patient}"
    if not call.access.sees_patient(patient):
        raise StoreError(403, "a patient token may only read that patient's data", "forbidden")
    max_per_code = bounded_int("max", query.get("max", "1"), 1, MAX_COUNT)
    codes = [c for value in query.getall("code", []) for c in value.split(",") if c]
    found = await call.store.lastn(
        patient, codes, max_per_code, query.get("category"), access=call.access
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(found),
        "entry": [_entry(call, s, "match") for s in found],
    }
    return fhir_json(bundle), Action.SEARCH, [s.reference for s in found]


def _history_entry(call: Call, stored: Stored) -> dict[str, Any]:
    status = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}[stored.method]
    url = stored.resource_type if stored.method == "POST" else stored.reference
    entry: dict[str, Any] = {
        "fullUrl": f"{call.base}/{stored.reference}",
        "request": {"method": stored.method, "url": url},
        "response": {
            "status": status,
            "etag": stored.etag,
            "lastModified": format_instant(stored.last_updated),
        },
    }
    if stored.content is not None:
        entry["resource"] = stored.content
    return entry


async def history(call: Call, rtype: str | None, rid: str | None) -> Dispatched:
    """A history bundle of the system, a type or one resource."""
    if rtype is None:
        if call.grant is not None and not call.grant.allows_all_types(Action.SEARCH):
            raise StoreError(403, "system history needs a */read scope", "forbidden")
    else:
        call.require(rtype, Action.READ if rid else Action.SEARCH)
    query = call.request.query
    allowed = {"_since", "_count", "_getpagesoffset", "_sort", "_format"}
    unknown = set(query) - allowed
    if unknown and call.prefer.get("handling") != "lenient":
        raise invalid(f"_history does not take {sorted(unknown)}")
    try:
        since = parse_instant(query["_since"]) if "_since" in query else None
        count = min(int(query.get("_count", "100")), 1000)
        offset = int(query.get("_getpagesoffset", "0"))
    except (DateFormatError, ValueError) as error:
        raise invalid(f"bad _history parameter: {error}") from error
    sort = query.get("_sort", "-_lastUpdated")
    if sort not in ("_lastUpdated", "-_lastUpdated"):
        raise invalid("_history sorts only by _lastUpdated or -_lastUpdated")
    versions, more = await call.store.history(
        rtype, rid, since, count, offset, sort == "_lastUpdated", access=call.access
    )
    path = "/".join(call.parts)
    params = list(query.items())
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "history",
        "link": [{"relation": "self", "url": f"{call.base}/{path}"}],
    }
    if more:
        bundle["link"].append(
            {"relation": "next", "url": _page_link(call, path, params, offset + count)}
        )
    bundle["entry"] = [_history_entry(call, v) for v in versions]
    return fhir_json(bundle), Action.READ, [v.reference for v in versions]
