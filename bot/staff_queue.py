"""The provider's pages: the day's visit queue, each visit's summary, Join and Add note."""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.csrf import submitted_form
from bot.pages import see_other
from bot.services import SERVICES
from bot.staff_auth import PROVIDERS, StaffView, check_id, guarded
from bot.staff_layout import hidden_csrf, staff_page
from bot.staff_records import QueueEntry, Summary, note_resource, queue, summary, visit_entry
from bot.staff_texts import t
from dialogs.base import Language
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.models import VitalKind, VitalReading
from dialogs.vitals_bands import shown
from dialogs.vitals_chart import TITLES, render_trend_svg
from integrations.visits.service import Patient

MAX_NOTE_CHARS = 4000
_esc = html.escape


def _zone(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SERVICES].settings.timezone)


def chosen_day(value: str | None, today: date) -> date:
    """The `?day=` asked for (YYYY-MM-DD), else TODAY; 404 for anything else."""
    if not value:
        return today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise web.HTTPNotFound(text="no such day") from None


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%H:%M")


def queue_table(entries: list[QueueEntry], language: Language, zone: ZoneInfo) -> str:
    """The queue's rows: time, patient, state, a link to the summary."""
    if not entries:
        return f"<p>{_esc(t('no_visits', language))}</p>"
    rows = "".join(
        f"<tr><td>{_local(e.visit.start, zone)}</td><td>{_esc(e.patient_name)}</td>"
        f'<td class="state">{_esc(t(e.state, language))}</td>'
        f'<td><a href="/staff/visits/{_esc(e.visit.appointment_id)}">'
        f'{_esc(t("open_summary", language))}<span class="muted"> ({_esc(e.patient_name)})</span></a></td></tr>'
        for e in entries
    )
    head = "".join(
        f'<th scope="col">{_esc(t(k, language))}</th>'
        for k in ("time", "patient", "status", "summary")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


@guarded(PROVIDERS)
async def queue_page(request: web.Request, view: StaffView) -> web.StreamResponse:
    """GET /staff/queue[?day=YYYY-MM-DD]: the provider's visits of the day, in time order."""
    zone = _zone(request)
    day = chosen_day(request.query.get("day"), datetime.now(zone).date())
    start = datetime.combine(day, time(0), zone)
    assert view.practitioner is not None
    entries = await queue(view.fhir(request), view.practitioner, start, start + timedelta(days=1))
    language = view.language
    picker = (
        f'<form method="get" action="/staff/queue"><label for="day">{_esc(t("day", language))}</label>'
        f'<input id="day" name="day" type="date" value="{day.isoformat()}"> '
        f'<button type="submit">{_esc(t("show", language))}</button></form>'
    )
    title = f"{t('visits_on', language)} {day.isoformat()}"
    body = f'<section class="card">{picker}{queue_table(entries, language, zone)}</section>'
    return staff_page(request, view, title, body)


def _latest(readings: list[VitalReading], language: Language) -> str:
    newest: dict[VitalKind, VitalReading] = {}
    for reading in readings:
        if reading.time is None:
            continue
        if reading.kind not in newest or reading.time > (newest[reading.kind].time or reading.time):
            newest[reading.kind] = reading
    rows = []
    for kind, reading in newest.items():
        label = TITLES.get(kind, {}).get(language) or kind.value.replace("_", " ")
        if kind is VitalKind.DIASTOLIC_BP:
            label = f"{label} (diastolic)" if language == "en" else f"{label} (diastolique)"
        rows.append(f'<tr><th scope="row">{_esc(label)}</th><td>{shown(reading).value:g}</td></tr>')
    return f"<table><caption>{_esc(t('latest', language))}</caption><tbody>{''.join(rows)}</tbody></table>"


def _triage_section(data: Summary, language: Language) -> str:
    triage = data.triage
    if triage is None:
        return f"<p>{_esc(t('no_triage', language))}</p>"
    reasons = "".join(f"<li>{_esc(r)}</li>" for r in triage.reasons)
    answers = "".join(
        f'<tr><th scope="row">{_esc(q)}</th><td>{_esc(a)}</td></tr>' for q, a in triage.answers
    )
    return (
        f"<p><strong>{_esc(t('level', language))}:</strong> {_esc(triage.level)} "
        f'<span class="muted">({_esc(triage.when)})</span></p>'
        f"<h4>{_esc(t('reasons', language))}</h4><ul>{reasons}</ul>"
        f"<table><caption>{_esc(t('answers', language))}</caption><thead><tr>"
        f'<th scope="col">{_esc(t("question", language))}</th><th scope="col">{_esc(t("answer", language))}</th>'
        f"</tr></thead><tbody>{answers}</tbody></table>"
    )


def _risk_section(data: Summary, language: Language) -> str:
    parts = []
    risk = data.risk
    if risk is None:
        parts.append(f"<p>{_esc(t('no_risk', language))}</p>")
    else:
        probability = f"{risk.probability:.0%}" if risk.probability is not None else "-"
        news2 = str(risk.news2_total) if risk.news2_total is not None else "-"
        parts.append(
            f"<p><strong>{_esc(t('model_risk', language))}:</strong> {probability} ({_esc(risk.model_risk)}); "
            f"<strong>{_esc(t('news2', language))}:</strong> {news2} ({_esc(risk.news2_risk)}) "
            f'<span class="muted">({_esc(risk.when)})</span></p>'
        )
    flags = "".join(f"<li>{_esc(f)}</li>" for f in data.flags)
    parts.append(f"<h4>{_esc(t('flags', language))}</h4>")
    parts.append(f"<ul>{flags}</ul>" if flags else f"<p>{_esc(t('no_flags', language))}</p>")
    return "".join(parts)


def _notes_section(data: Summary, language: Language, csrf: str, action: str, notice: str) -> str:
    notes = "".join(
        f'<li><span class="muted">{_esc(when)}</span> {_esc(text)}</li>'
        for when, text in data.notes
    )
    listed = f"<ul>{notes}</ul>" if notes else f"<p>{_esc(t('no_notes', language))}</p>"
    message = f'<p class="notice" role="status">{_esc(notice)}</p>' if notice else ""
    return (
        f'{message}{listed}<form method="post" action="{_esc(action)}">{csrf}'
        f'<label for="note">{_esc(t("note_text", language))}</label>'
        f'<textarea id="note" name="note" maxlength="{MAX_NOTE_CHARS}" required></textarea>'
        f'<button class="primary" type="submit">{_esc(t("add_note", language))}</button></form>'
    )


async def _own_visit(request: web.Request, view: StaffView) -> QueueEntry:
    """The visit named in the URL, when it is one of this provider's (404 otherwise)."""
    appointment_id = check_id(request.match_info["appointment_id"])
    entry = await visit_entry(view.fhir(request), appointment_id)
    if entry.visit.practitioner != view.practitioner:
        raise web.HTTPNotFound(text="not found")
    return entry


@guarded(PROVIDERS)
async def visit_page(request: web.Request, view: StaffView) -> web.StreamResponse:
    """GET /staff/visits/{id}: what the provider reads before the visit, Join, Add note."""
    entry = await _own_visit(request, view)
    services = request.app[SERVICES]
    zone = _zone(request)
    data = await summary(view.fhir(request), entry, datetime.now(UTC))
    language = view.language
    chart = ""
    if data.readings:
        svg = await asyncio.to_thread(
            render_trend_svg, data.readings, language, load_knowledge(), zone
        )
        label = _esc(t("chart_label", language))
        chart = f'<figure class="chart" role="img" aria-label="{label}">{svg}</figure>'
    vitals = (
        f"{_latest(list(data.readings), language)}{chart}"
        if data.readings
        else f"<p>{_esc(t('no_vitals', language))}</p>"
    )
    link = None
    if data.consent is not None:
        patient = Patient(entry.patient, view.account.id, language, str(zone))
        link = await services.visits.link(entry.visit, patient, provider=True)
    join = (
        f'<p><a class="join" href="{_esc(link)}" target="_blank" rel="noopener">{_esc(t("join", language))}</a></p>'
        if link
        else f"<p>{_esc(t('no_join', language))}</p>"
    )
    consent = t("consent_active" if data.consent else "consent_missing", language)
    action = f"/staff/visits/{entry.visit.appointment_id}/notes"
    notice = t("note_saved", language) if request.query.get("saved") == "1" else ""
    sections = [
        ("triage", _triage_section(data, language)),
        ("vitals", vitals),
        ("risk", _risk_section(data, language)),
        (
            "consent_insurance",
            f"<p><strong>{_esc(t('consent', language))}:</strong> {_esc(consent)}</p>"
            f"<p><strong>{_esc(t('insurance', language))}:</strong> "
            f"{_esc(data.coverage or t('no_insurance', language))}</p>{join}",
        ),
        ("notes", _notes_section(data, language, hidden_csrf(request), action, notice)),
    ]
    body = (
        f'<p><a href="/staff/queue?day={entry.visit.start.astimezone(zone).date().isoformat()}">'
        f"{_esc(t('back_to_queue', language))}</a> "
        f'<span class="muted">{entry.visit.start.astimezone(zone):%Y-%m-%d %H:%M} - '
        f"{_esc(t(entry.state, language))}</span></p>"
        + "".join(
            f'<section class="card" aria-labelledby="s-{key}"><h3 id="s-{key}">{_esc(t(key, language))}</h3>{html_}</section>'
            for key, html_ in sections
        )
    )
    return staff_page(request, view, f"{t('visit_with', language)} {entry.patient_name}", body)


@guarded(PROVIDERS)
async def add_note(request: web.Request, view: StaffView) -> web.StreamResponse:
    """POST /staff/visits/{id}/notes: a progress note by the provider, through the store."""
    form = submitted_form(request)
    entry = await _own_visit(request, view)
    text = form.get("note", "").strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise web.HTTPBadRequest(text=t("note_empty", view.language))
    assert view.practitioner is not None
    document = note_resource(
        entry.patient, view.practitioner, view.account.display_name, text, datetime.now(UTC)
    )
    # Staff tokens only read: the note is written with a token bound to this (checked)
    # patient, acting for the provider, so the store's AuditEvent names them.
    client = request.app[SERVICES].fhir.for_patient(entry.patient, person=view.account.id)
    await client.request_json(
        "POST", "DocumentReference", body=document, headers={"Prefer": "return=minimal"},
        idempotent=False,
    )  # fmt: skip
    return see_other(f"/staff/visits/{entry.visit.appointment_id}?saved=1")


def add_routes(app: web.Application) -> None:
    """Mount the provider's pages."""
    app.router.add_get("/staff/queue", queue_page)
    app.router.add_get("/staff/visits/{appointment_id}", visit_page)
    app.router.add_post("/staff/visits/{appointment_id}/notes", add_note)
