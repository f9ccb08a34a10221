"""The care manager's handoff pages under /staff/handoffs: the waiting requests of their
patients (and of patients assigned to nobody), one conversation with its live messages
(server-sent events) and a form to write, take and hand back. Staff sign-in and CSRF as on
every staff page; a request a staff member may not see answers 404."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.resources import files

from aiohttp import web

from bot.csrf import csrf_token, submitted_form
from bot.handoffs import HANDOFFS
from bot.pages import CSRF_FIELD, page, see_other, sign_out_button
from bot.web_sessions import STAFF, current_account, sign_in_page
from integrations.accounts import Account, Role
from integrations.persistence.handoffs import (
    Handoff,
    HandoffMessage,
    HandoffStatus,
    Sender,
    may_see,
)

HANDOFF_SCRIPT = files("bot").joinpath("portal/handoff.js")
POLL_S = 0.3
STREAM_S = 300.0  # then the browser's EventSource reconnects (Last-Event-ID)
_MAY_TAKE = (Role.CARE_MANAGER, Role.ADMIN)


async def _staff(request: web.Request) -> Account | web.Response:
    account = await current_account(request, STAFF)
    if account is None:
        return sign_in_page(request, STAFF)
    if account.role not in _MAY_TAKE:
        raise web.HTTPForbidden(text="Only care managers answer handoffs.")
    return account


async def _visible(request: web.Request, account: Account) -> Handoff:
    found = await request.app[HANDOFFS].relay.store.get(request.match_info["id"])
    if found is None or not may_see(found, account.fhir_reference):
        raise web.HTTPNotFound(text="No such request.")
    return found


def _form(action: str, csrf: str, label: str, extra: str = "") -> str:
    return (f'<form method="post" action="{html.escape(action)}">'
            f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">{extra}'
            f'<button class="primary" type="submit">{html.escape(label)}</button></form>')  # fmt: skip


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M UTC")


def _page(request: web.Request, account: Account, title: str, body: str,
          scripts: tuple[str, ...] = ()) -> web.Response:  # fmt: skip
    header = sign_out_button("/staff/logout", account.display_name, csrf_token(request))
    return page(request, title=title, heading="carebot staff", header_right=header,
                body=body, scripts=scripts)  # fmt: skip


async def handoff_list(request: web.Request) -> web.Response:
    """The open requests this care manager may see."""
    account = await _staff(request)
    if isinstance(account, web.Response):
        return account
    handoffs = await request.app[HANDOFFS].relay.store.visible_to(account.fhir_reference)
    rows = "".join(
        f'<li class="handoff" data-id="{h.id}"><a href="/staff/handoffs/{h.id}">'
        f"{html.escape(h.patient)}</a> · {h.status.value} since {_when(h.created_at)}"
        f"{' · ' + html.escape(h.taken_by_name or '') if h.taken_by_name else ''}</li>"
        for h in handoffs
    )
    body = ('<div class="card"><h2>Patients asking for a person</h2>'
            f'{"<ul>" + rows + "</ul>" if rows else "<p class=muted>Nobody is waiting.</p>"}'
            "</div>")  # fmt: skip
    return _page(request, account, "Handoffs", body)


def _line(message: HandoffMessage) -> str:
    who = "Patient" if message.sender is Sender.PATIENT else "Care team"
    return (f'<p class="msg {message.sender.value}" data-id="{message.id}">'
            f"<b>{who}</b> {html.escape(message.text)}</p>")  # fmt: skip


async def handoff_page(request: web.Request) -> web.Response:
    """One request: its messages, and take / write / hand back."""
    account = await _staff(request)
    if isinstance(account, web.Response):
        return account
    handoff = await _visible(request, account)
    relay = request.app[HANDOFFS].relay
    name = await relay.audited(handoff, account)
    messages = await relay.store.messages(handoff.id)
    csrf, base = csrf_token(request), f"/staff/handoffs/{handoff.id}"
    actions = ""
    if handoff.status is HandoffStatus.WAITING:
        actions = _form(f"{base}/take", csrf, "Take this conversation")
    elif handoff.status is HandoffStatus.TAKEN and handoff.taken_by == account.id:
        box = ('<label for="text">Message to the patient</label>'
               '<input id="text" name="text" type="text" maxlength="2000" required>')  # fmt: skip
        actions = _form(f"{base}/say", csrf, "Send", box) + _form(
            f"{base}/close", csrf, "Hand back to the bot"
        )
    last = messages[-1].id if messages else 0
    body = (f'<div class="card"><h2>{html.escape(name)}</h2>'
            f'<p class="muted" id="status">{handoff.status.value}</p>'
            f'<div id="messages" data-stream="{base}/events" data-last="{last}">'
            f'{"".join(_line(m) for m in messages)}</div>{actions}</div>')  # fmt: skip
    return _page(request, account, "Handoff", body, scripts=("/staff/handoff.js",))


async def _act(
    request: web.Request,
) -> tuple[Account, Handoff, Mapping[str, str]] | web.Response:
    account = await _staff(request)
    if isinstance(account, web.Response):
        return account
    form = submitted_form(request)
    return account, await _visible(request, account), form


async def take(request: web.Request) -> web.Response:
    """Take the request (someone faster: the page says who)."""
    acted = await _act(request)
    if isinstance(acted, web.Response):
        return acted
    account, handoff, _ = acted
    await request.app[HANDOFFS].relay.take(handoff.id, account)
    return see_other(f"/staff/handoffs/{handoff.id}")


async def say(request: web.Request) -> web.Response:
    """Send the care manager's message to the patient."""
    acted = await _act(request)
    if isinstance(acted, web.Response):
        return acted
    account, handoff, form = acted
    if handoff.status is not HandoffStatus.TAKEN or handoff.taken_by != account.id:
        raise web.HTTPConflict(text="Take the conversation first.")
    try:
        await request.app[HANDOFFS].relay.say(handoff, account, form.get("text", ""))
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    return see_other(f"/staff/handoffs/{handoff.id}")


async def close(request: web.Request) -> web.Response:
    """Hand the conversation back to the bot."""
    acted = await _act(request)
    if isinstance(acted, web.Response):
        return acted
    account, handoff, _ = acted
    await request.app[HANDOFFS].relay.hand_back(handoff.id, account)
    return see_other("/staff/handoffs")


async def events(request: web.Request) -> web.StreamResponse:
    """New messages and the status as server-sent events, read from the database (so any
    process's relay shows up), until the handoff closes or the stream's time is up."""
    account = await _staff(request)
    if isinstance(account, web.Response):
        return account
    handoff = await _visible(request, account)
    store = request.app[HANDOFFS].relay.store
    raw = request.headers.get("Last-Event-ID") or request.query.get("after", "0")
    after = int(raw) if raw.isdigit() else 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})  # fmt: skip
    await response.prepare(request)
    status = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_S
    while loop.time() < deadline:
        for message in await store.messages(handoff.id, after):
            after = message.id
            data = json.dumps({"sender": message.sender.value, "text": message.text})
            await response.write(f"id: {message.id}\nevent: message\ndata: {data}\n\n".encode())
        current = await store.get(handoff.id)
        if current is not None and current.status is not status:
            status = current.status
            await response.write(f"event: status\ndata: {status.value}\n\n".encode())
        if status is HandoffStatus.CLOSED:
            break
        await asyncio.sleep(POLL_S)
    return response


async def script(request: web.Request) -> web.Response:
    """The page's script (live messages)."""
    return web.Response(text=HANDOFF_SCRIPT.read_text(encoding="utf-8"),
                        content_type="text/javascript", headers={"Cache-Control": "no-cache"})  # fmt: skip


def add_routes(app: web.Application) -> None:
    """Mount the handoff pages."""
    app.router.add_get("/staff/handoffs", handoff_list)
    app.router.add_get("/staff/handoff.js", script)
    app.router.add_get("/staff/handoffs/{id}", handoff_page)
    app.router.add_get("/staff/handoffs/{id}/events", events)
    app.router.add_post("/staff/handoffs/{id}/take", take)
    app.router.add_post("/staff/handoffs/{id}/say", say)
    app.router.add_post("/staff/handoffs/{id}/close", close)
