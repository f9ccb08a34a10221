"""The staff area mount point (`/staff`) with its own sign-in; pages plug in below it."""

from __future__ import annotations

import html

from aiohttp import web

from bot import staff_audit, staff_queue
from bot.csrf import csrf_token
from bot.pages import page, see_other, sign_out_button
from bot.staff_auth import HOMES
from bot.web_sessions import STAFF, current_account, login, logout, sign_in_page

ROLE_NAMES = {"provider": "Provider", "care_manager": "Care manager", "admin": "Administrator"}


async def staff_home(request: web.Request) -> web.Response:
    """A signed-in member's home page (the queue, their patients), a welcome for others,
    else the sign-in form."""
    account = await current_account(request, STAFF)
    if account is None:
        return sign_in_page(request, STAFF)
    if account.role in HOMES:
        return see_other(HOMES[account.role])
    role = ROLE_NAMES.get(account.role.value, account.role.value)
    body = (
        f'<div class="card"><h2>Welcome, {html.escape(account.display_name)}</h2>'
        f'<p class="muted">Signed in as {html.escape(role)}.</p></div>'
    )
    return page(
        request,
        title="carebot staff",
        heading="carebot staff",
        header_right=sign_out_button("/staff/logout", account.display_name, csrf_token(request)),
        body=body,
    )


async def staff_login(request: web.Request) -> web.StreamResponse:
    """Only providers, care managers and administrators sign in here."""
    return await login(request, STAFF)


async def staff_logout(request: web.Request) -> web.StreamResponse:
    """End the staff session."""
    return await logout(request, STAFF)


def add_routes(app: web.Application) -> None:
    """Mount the staff area."""
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/staff/login", staff_login)
    app.router.add_post("/staff/logout", staff_logout)
    staff_queue.add_routes(app)
    staff_audit.add_routes(app)
