"""FHIR Bulk Data export (Bulk Data Access IG 2.0): `$export` at system and Patient level.

Kick-off `GET /$export` or `GET /Patient/$export` (`_type`, `_since`, `_outputFormat`)
with `Prefer: respond-async` answers 202 with `Content-Location`, the job's status URL.
Polling it answers 202 with `X-Progress` while the job runs, then 200 with the manifest,
whose output URLs serve the NDJSON files; DELETE on it cancels the job. Status and files
answer only the client that started the job (requiresAccessToken).

Who may export: the system level needs a system client whose scopes read every type; the
Patient level also a patient's own token (that patient's compartment alone). Staff tokens
do not export. Every kick-off leaves an AuditEvent (person-bound tokens through the app's
audit, system clients here).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from integrations.fhir_store.access import STORE_WRITTEN
from integrations.fhir_store.audit import audit_event
from integrations.fhir_store.call import Call, Dispatched, fhir_json
from integrations.fhir_store.dates import DateFormatError, format_instant, parse_instant
from integrations.fhir_store.export import ExportJob, Exports
from integrations.fhir_store.outcome import StoreError, invalid
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.scopes import Action

log = logging.getLogger(__name__)

EXPORTS_KEY = web.AppKey("fhir_exports", Exports)
NDJSON = "application/fhir+ndjson"
_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
_PARAMS = frozenset({"_type", "_since", "_outputFormat"})


def _client_id(call: Call) -> str | None:
    return call.grant.client_id if call.grant is not None else None


def _check_caller(call: Call, patient_level: bool) -> None:
    grant = call.grant
    if grant is None:
        return  # a store that requires no token
    if patient_level and grant.patient is not None and grant.allows("Patient", Action.READ):
        return
    if not grant.person_bound and grant.allows_all_types(Action.READ):
        return
    raise StoreError(403, "export needs a system client that reads every type", "forbidden")


def _types(call: Call, raw: str | None) -> tuple[str, ...]:
    access = call.access
    if raw is None:
        chosen = STORED_TYPES - STORE_WRITTEN
    else:
        chosen = frozenset(t.strip() for t in raw.split(",") if t.strip())
        unknown = sorted(chosen - STORED_TYPES)
        if unknown or not chosen:
            raise invalid(f"_type names types not stored here: {unknown or raw!r}")
        if chosen & STORE_WRITTEN and call.grant is not None and call.grant.person_bound:
            raise StoreError(403, "AuditEvents are not exported to this token", "forbidden")
    return tuple(sorted(t for t in chosen if access.sees_type(t)))


async def _kick_off(call: Call, patient_level: bool) -> Dispatched:
    _check_caller(call, patient_level)
    query = call.request.query
    if call.prefer.get("respond-async") is None:
        raise invalid("$export runs asynchronously: send Prefer: respond-async")
    unknown = set(query) - _PARAMS
    if unknown:
        raise invalid(f"$export does not take {sorted(unknown)}")
    output_format = query.get("_outputFormat", NDJSON)
    if output_format not in _FORMATS:
        raise invalid(f"_outputFormat {output_format!r} is not supported (NDJSON only)")
    try:
        since = parse_instant(query["_since"]) if "_since" in query else None
    except DateFormatError as error:
        raise invalid(f"_since: {error}") from error
    types = _types(call, query.get("_type"))
    request_url = f"{call.base}/{'/'.join(call.parts)}"
    if call.request.query_string:
        request_url += f"?{call.request.query_string}"
    exports = call.request.app[EXPORTS_KEY]
    job = exports.start(
        call.store, call.access, _client_id(call), request_url, types, since, patient_level
    )
    grant = call.grant
    if grant is not None and not grant.person_bound:
        # a system client's access is not audited by the app: an export always is
        await call.store.record_audit(
            audit_event(grant, Action.READ, [], 202, call.request.query_string or "$export")
        )
    headers = {"Content-Location": f"{call.base}/$export-status/{job.job_id}"}
    return web.Response(status=202, headers=headers), Action.READ, []


async def export_system(call: Call) -> Dispatched:
    """GET `/$export`: every type the caller reads."""
    return await _kick_off(call, patient_level=False)


async def export_patients(call: Call) -> Dispatched:
    """GET `/Patient/$export`: Patients and the resources of their compartments."""
    return await _kick_off(call, patient_level=True)


def _manifest(call: Call, job: ExportJob) -> dict[str, Any]:
    return {
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [
            {
                "type": rtype,
                "url": f"{call.base}/$export-file/{job.job_id}/{rtype}.ndjson",
                "count": count,
            }
            for rtype, count in sorted(job.counts.items())
        ],
        "error": [],
    }


async def export_status(call: Call) -> Dispatched:
    """GET `/$export-status/{job}`: 202 with progress, then the manifest."""
    job = call.request.app[EXPORTS_KEY].get(call.request.match_info["job"], _client_id(call))
    if not job.done:
        headers = {"X-Progress": f"{job.exported} resources exported", "Retry-After": "1"}
        return web.Response(status=202, headers=headers), Action.READ, []
    if job.error is not None:
        raise StoreError(500, f"the export failed ({job.error})", "exception")
    return fhir_json(_manifest(call, job)), Action.READ, []


async def export_cancel(call: Call) -> Dispatched:
    """DELETE `/$export-status/{job}`: cancel the job and remove its files."""
    await call.request.app[EXPORTS_KEY].cancel(call.request.match_info["job"], _client_id(call))
    return web.Response(status=202), Action.DELETE, []


async def export_file(call: Call) -> Dispatched:
    """GET `/$export-file/{job}/{Type}.ndjson`: one output file of a finished job."""
    match = call.request.match_info
    job = call.request.app[EXPORTS_KEY].get(match["job"], _client_id(call))
    rtype = match["file"].removesuffix(".ndjson")
    if not job.done or rtype not in job.counts or match["file"] != f"{rtype}.ndjson":
        raise StoreError(404, "no such export file", "not-found")
    response = web.FileResponse(job.directory / match["file"], headers={"Content-Type": NDJSON})
    return response, Action.READ, []
