"""The administrator's audit view (`/staff/audit`): the store's AuditEvents, filtered, paged.

AuditEvents are read with a system client scoped to that one type (`system/AuditEvent.rs`):
no person-bound token reads them (the store hides them from staff tokens), and the page
shows who did what to which record, not the records themselves.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.services import SERVICES
from bot.staff_auth import ADMINS, StaffView, check_id, guarded
from bot.staff_layout import staff_page

PAGE_SIZE = 50
ACTIONS = {"C": "create", "R": "read", "U": "update", "D": "delete", "E": "search"}
_USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,128}")
_esc = html.escape


@dataclass(frozen=True)
class AuditFilter:
    """What the administrator asked for (checked: bad values are a 404, nothing searched)."""

    patient: str = ""
    person: str = ""
    action: str = ""
    day: str = ""
    page: int = 1


def audit_filter(query: Any) -> AuditFilter:
    """The filter of a request's query string; 404 for a value that is not one."""
    patient, person = query.get("patient", "").strip(), query.get("person", "").strip()
    action, day, page = query.get("action", ""), query.get("day", ""), query.get("page", "1")
    if patient:
        check_id(patient.removeprefix("Patient/"))
    if person and _USERNAME.fullmatch(person) is None:
        raise web.HTTPNotFound(text="no such person")
    if action and action not in ACTIONS:
        raise web.HTTPNotFound(text="no such action")
    if day:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise web.HTTPNotFound(text="no such day") from None
    if not page.isdigit() or not 1 <= int(page) <= 10_000:
        raise web.HTTPNotFound(text="no such page")
    return AuditFilter(patient.removeprefix("Patient/"), person, action, day, int(page))


def _who(event: dict[str, Any]) -> str:
    for agent in event.get("agent") or []:
        if agent.get("requestor"):
            who = agent.get("who") or {}
            return str(who.get("reference") or (who.get("identifier") or {}).get("value", ""))
    return ""


def _row(event: dict[str, Any]) -> str:
    whats = [str((e.get("what") or {}).get("reference", "")) for e in event.get("entity") or []]
    queries = [str(e.get("name", "")) for e in event.get("entity") or [] if e.get("name")]
    seen = ", ".join(w for w in whats if w)[:400]
    return (
        f"<tr><td>{_esc(str(event.get('recorded', '')))}</td><td>{_esc(_who(event))}</td>"
        f"<td>{_esc(ACTIONS.get(str(event.get('action')), ''))}</td><td>{_esc(seen)}</td>"
        f"<td>{_esc(' '.join(queries)[:200])}</td><td>{_esc(str(event.get('outcome', '')))}</td></tr>"
    )


@guarded(ADMINS)
async def audit_page(request: web.Request, view: StaffView) -> web.StreamResponse:
    """GET /staff/audit: AuditEvents by patient, person, action and day, newest first."""
    wanted = audit_filter(request.query)
    services = request.app[SERVICES]
    params = [("_sort", "-date"), ("_count", str(PAGE_SIZE))]
    params.append(("_getpagesoffset", str((wanted.page - 1) * PAGE_SIZE)))
    if wanted.patient:
        params.append(("patient", f"Patient/{wanted.patient}"))
    if wanted.action:
        params.append(("action", wanted.action))
    if wanted.day:
        params.append(("date", f"eq{wanted.day}"))
    if wanted.person:
        account = await services.accounts.by_username(wanted.person)
        reference = (account.fhir_reference if account else None) or ""
        if not reference.startswith("Practitioner/"):
            raise web.HTTPNotFound(text="no staff member of that name")
        params.append(("agent", reference))
    client = services.fhir.system("system/AuditEvent.rs")
    _, bundle = await client.request_json("GET", "AuditEvent", params=params)
    events = [e["resource"] for e in (bundle or {}).get("entry") or []]
    more = any(link.get("relation") == "next" for link in (bundle or {}).get("link") or [])
    fields = "".join(
        f'<label for="{name}">{label}</label><input id="{name}" name="{name}" type="{kind}" '
        f'value="{_esc(value)}">'
        for name, label, kind, value in (
            ("patient", "Patient id", "text", wanted.patient),
            ("person", "Staff username", "text", wanted.person),
            ("day", "Day", "date", wanted.day),
        )
    )
    options = "".join(
        f'<option value="{code}"{" selected" if code == wanted.action else ""}>{name}</option>'
        for code, name in (("", "any"), *ACTIONS.items())
    )
    form = (
        f'<form method="get" action="/staff/audit">{fields}<label for="action">Action</label>'
        f'<select id="action" name="action">{options}</select> '
        '<button type="submit">Filter</button></form>'
    )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Recorded", "Who", "Action", "What was seen", "Query", "Outcome")
    )
    rows = "".join(_row(e) for e in events) or '<tr><td colspan="6">No AuditEvent.</td></tr>'
    kept = {k: v for k, v in request.query.items() if k != "page"}
    pager = []
    if wanted.page > 1:
        pager.append(
            f'<a href="/staff/audit?{_esc(urlencode({**kept, "page": wanted.page - 1}))}">Newer</a>'
        )
    if more:
        pager.append(
            f'<a href="/staff/audit?{_esc(urlencode({**kept, "page": wanted.page + 1}))}">Older</a>'
        )
    body = (
        f'<section class="card">{form}<table><caption>Page {wanted.page}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        f'<nav aria-label="Pages">{" ".join(pager)}</nav></section>'
    )
    return staff_page(request, view, "Audit log", body)


def add_routes(app: web.Application) -> None:
    """Mount the audit view."""
    app.router.add_get("/staff/audit", audit_page)
