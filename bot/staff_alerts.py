"""The staff inbox of care-manager alerts (`/staff/alerts`): the signed-in care manager's
open alerts and the unassigned queue, updated live (server-sent events), with Acknowledge
(a form POST with the CSRF token) and Open (the patient's notes and vitals).

Every read of a patient's data goes through the care manager's own FHIR client (their
patients only; the store writes one AuditEvent per access naming them). Alerts in the
unassigned queue are read with the service's client and show only what happened and when:
no patient until someone takes the alert.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from aiohttp import web

from bot.alert_channels import AlertHub
from bot.csrf import csrf_token
from bot.pages import CSRF_FIELD, page, script_response, see_other, sign_out_button
from bot.services import SERVICES
from bot.web_sessions import STAFF, current_account, sign_in_page
from integrations.accounts import Account, Role
from integrations.alerts.acknowledge import Acknowledged, AlertAcks
from integrations.alerts.codes import KIND_TEXT, REVIEW, TASK_CODE_SYSTEM, UNASSIGNED, Channel
from integrations.alerts.deliveries import Delivery, outbox_kind
from integrations.alerts.resources import kind_of, patient_name, reference
from integrations.fhir.client import FhirClient
from integrations.fhir.errors import FhirError
from integrations.persistence.outbox import Outbox

Json = dict[str, Any]
SCRIPT = files("bot").joinpath("portal/staff_alerts.js")
STREAM_POLL_S = 1.0
HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class AlertInbox:
    """What the inbox pages need beside the services: the outbox (its sent inbox items
    feed the live stream) and this process's wake-ups."""

    outbox: Outbox
    hub: AlertHub


ALERT_INBOX: web.AppKey[AlertInbox] = web.AppKey("carebot_alert_inbox", AlertInbox)


async def _care_manager(request: web.Request) -> Account | web.Response:
    account = await current_account(request, STAFF)
    if account is None:
        return sign_in_page(request, STAFF)
    if account.role is not Role.CARE_MANAGER or not account.fhir_reference:
        return page(request, title="Alerts", heading="Alerts", status=403,
                    body='<div class="card"><p>Alerts are for care managers.</p></div>')  # fmt: skip
    return account


def _staff_client(request: web.Request, account: Account) -> FhirClient:
    practitioner = str(account.fhir_reference)
    return request.app[SERVICES].fhir.for_staff(practitioner, person=account.id)


def _entries(bundle: Json | None) -> list[Json]:
    return [e["resource"] for e in (bundle or {}).get("entry") or [] if e.get("resource")]


async def _open_tasks(client: FhirClient, owner: str | None) -> list[Json]:
    params = [("code", f"{TASK_CODE_SYSTEM}|{REVIEW}"), ("status", "requested,accepted")]
    params += [("owner", owner)] if owner else []
    params += [("_sort", "-_lastUpdated"), ("_count", "100")]
    _, bundle = await client.request_json("GET", "Task", params=params)
    return [r for r in _entries(bundle) if owner or reference(r, "owner") is None]


def _row(task: Json, patient: str | None, csrf: str) -> Json:
    """What the page shows of one alert (patient None: an unassigned one)."""
    kind = kind_of(task)
    return {
        "id": str(task.get("id")),
        "what": KIND_TEXT[kind] if kind else "Alert",
        "when": str(task.get("authoredOn") or ""),
        "patient": patient,
        "csrf": csrf,
    }


def _row_html(row: Json) -> str:
    tid = html.escape(row["id"])
    who = html.escape(row["patient"]) if row["patient"] else "Unassigned patient"
    opener = f' <a href="/staff/alerts/{tid}/open">Open</a>' if row["patient"] else ""
    return (
        f'<li class="alert" id="alert-{tid}" data-task="{tid}">'
        f'<strong>{html.escape(row["what"])}</strong> · <span class="who">{who}</span> · '
        f"<time>{html.escape(row['when'])}</time>{opener}"
        f'<form method="post" action="/staff/alerts/{tid}/ack">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(row["csrf"])}">'
        '<button type="submit">Acknowledge</button></form></li>'
    )


async def _rows(request: web.Request, account: Account, csrf: str) -> list[Json]:
    services = request.app[SERVICES]
    client = _staff_client(request, account)
    names: dict[str, str] = {}
    rows = []
    for task in await _open_tasks(client, str(account.fhir_reference)):
        patient = reference(task, "for") or ""
        if patient not in names:
            _, record = await client.request_json("GET", patient)
            names[patient] = patient_name(record)
        rows.append(_row(task, names[patient], csrf))
    queue = await _open_tasks(services.fhir.system(), None)
    return rows + [_row(t, None, csrf) for t in queue]


async def alerts_page(request: web.Request) -> web.Response:
    """The care manager's open alerts and the unassigned queue."""
    account = await _care_manager(request)
    if isinstance(account, web.Response):
        return account
    csrf = csrf_token(request)
    rows = await _rows(request, account, csrf)
    items = "".join(_row_html(r) for r in rows)
    empty = '<p class="muted" id="no-alerts">No open alerts.</p>' if not rows else ""
    last = await request.app[ALERT_INBOX].outbox.last_id()
    body = (
        f'<div class="card"><h2>Alerts</h2>{empty}'
        f'<ul id="alerts" data-since="{last}" data-csrf="{html.escape(csrf)}">{items}</ul></div>'
    )
    return page(
        request,
        title="Alerts",
        heading="carebot staff · alerts",
        header_right=sign_out_button("/staff/logout", account.display_name, csrf),
        body=body,
        scripts=("/staff/alerts.js",),
    )


async def _stream_row(
    request: web.Request, account: Account, delivery: Delivery, csrf: str
) -> Json | None:
    """The row of a delivery, read afresh (None when the alert is no longer open)."""
    if delivery.recipient == UNASSIGNED:
        _, task = await request.app[SERVICES].fhir.system().request_json("GET", delivery.task)
        open_ = task and task.get("status") in ("requested",) and not reference(task, "owner")
        return _row(task, None, csrf) if task and open_ else None
    client = _staff_client(request, account)
    try:
        _, task = await client.request_json("GET", delivery.task)
        _, patient = await client.request_json("GET", delivery.patient)
    except FhirError:
        return None  # no longer this care manager's patient
    if not task or task.get("status") not in ("requested", "accepted"):
        return None
    return _row(task, patient_name(patient), csrf)


async def alerts_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one `alert` event per new inbox delivery to this care manager
    or the unassigned queue (the data is the row as JSON)."""
    account = await _care_manager(request)
    if isinstance(account, web.Response):
        return account
    inbox = request.app[ALERT_INBOX]
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="since must be a number") from None
    csrf = csrf_token(request)
    suffixes = [f"|{account.fhir_reference}|{Channel.INBOX.value}", f"|{UNASSIGNED}|inbox"]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    wake = inbox.hub.listen()
    quiet = 0.0
    try:
        while True:
            wake.clear()
            sent = await inbox.outbox.sent_after(outbox_kind(Channel.INBOX), since, suffixes)
            for item_id, payload in sent:
                since = item_id
                row = await _stream_row(request, account, Delivery.from_payload(payload), csrf)
                if row is not None:
                    data = json.dumps(row)
                    await response.write(f"id: {item_id}\nevent: alert\ndata: {data}\n\n".encode())
            if quiet >= HEARTBEAT_S:
                await response.write(b": keep-alive\n\n")
                quiet = 0.0
            started = asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), STREAM_POLL_S)
            quiet += asyncio.get_running_loop().time() - started
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        inbox.hub.leave(wake)
    return response


async def acknowledge(request: web.Request) -> web.Response:
    """Acknowledge one alert (`AlertAcks`); 404 for an alert they cannot see."""
    account = await _care_manager(request)
    if isinstance(account, web.Response):
        return account
    acks = AlertAcks(request.app[SERVICES].fhir)
    if await acks.acknowledge(request.match_info["task"], account) is Acknowledged.NOT_FOUND:
        raise web.HTTPNotFound(text="no such alert")
    return see_other("/staff/alerts")


def _note_text(note: Json) -> str:
    for content in note.get("content") or []:
        attachment = content.get("attachment") or {}
        if attachment.get("data") and str(attachment.get("contentType", "")).startswith("text/"):
            with contextlib.suppress(ValueError):
                return base64.b64decode(attachment["data"]).decode("utf-8", "replace")
        if attachment.get("title"):
            return str(attachment["title"])
    return str(note.get("description") or "")


async def open_alert(request: web.Request) -> web.Response:
    """The patient of one alert: their recent notes and vitals (the care manager's reads)."""
    account = await _care_manager(request)
    if isinstance(account, web.Response):
        return account
    client = _staff_client(request, account)
    try:
        _, task = await client.request_json("GET", f"Task/{request.match_info['task']}")
        patient_ref = reference(task or {}, "for") or ""
        _, patient = await client.request_json("GET", patient_ref)
        _, notes = await client.request_json(
            "GET", "DocumentReference", params=[("patient", patient_ref), ("_sort", "-date"),
                                                ("_count", "10")],
        )  # fmt: skip
        _, vitals = await client.request_json(
            "GET", "Observation", params=[("patient", patient_ref), ("category", "vital-signs"),
                                          ("_sort", "-date"), ("_count", "20")],
        )  # fmt: skip
    except FhirError:
        raise web.HTTPNotFound(text="no such alert") from None
    note_items = "".join(
        f"<li><time>{html.escape(str(n.get('date', '')))}</time> {html.escape(_note_text(n))}</li>"
        for n in _entries(notes)
    )
    vital_items = "".join(
        f"<li><time>{html.escape(str(o.get('effectiveDateTime', '')))}</time> "
        f"{html.escape(str((o.get('code') or {}).get('text') or ''))} "
        f"{html.escape(str((o.get('valueQuantity') or {}).get('value', '')))} "
        f"{html.escape(str((o.get('valueQuantity') or {}).get('unit', '')))}</li>"
        for o in _entries(vitals)
    )
    csrf = csrf_token(request)
    body = (
        f'<div class="card"><h2>{html.escape(patient_name(patient))}</h2>'
        f'<h3>Notes</h3><ul id="notes">{note_items}</ul>'
        f'<h3>Vitals</h3><ul id="vitals">{vital_items}</ul>'
        '<p><a href="/staff/alerts">Back to alerts</a></p></div>'
    )
    return page(
        request,
        title="Alert",
        heading="carebot staff · alert",
        header_right=sign_out_button("/staff/logout", account.display_name, csrf),
        body=body,
    )


async def alerts_script(request: web.Request) -> web.Response:
    """The inbox's script: listens to the event stream and adds rows."""
    return script_response(SCRIPT)


def add_routes(app: web.Application) -> None:
    """Mount the alert inbox under /staff."""
    app.router.add_get("/staff/alerts", alerts_page)
    app.router.add_get("/staff/alerts.js", alerts_script)
    app.router.add_get("/staff/alerts/events", alerts_events)
    app.router.add_post("/staff/alerts/{task}/ack", acknowledge)
    app.router.add_get("/staff/alerts/{task}/open", open_alert)
