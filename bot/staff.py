"""The staff area mount point (`/staff`) with its own sign-in; pages plug in below it."""

from __future__ import annotations

import html

from aiohttp import web

from bot.pages import page, see_other, sign_in_form, sign_out_button
from bot.web_sessions import STAFF, current_account, end_session, sign_in, start_session

ROLE_NAMES = {"provider": "Provider", "care_manager": "Care manager", "admin": "Administrator"}


async def staff_home(request: web.Request) -> web.Response:
    """The staff landing page for a signed-in staff member, else the sign-in form."""
    account = await current_account(request, STAFF)
    if account is None or not account.is_staff:
        return page(
            title="carebot staff: sign in",
            heading="carebot staff",
            body=sign_in_form("/staff/login", "Sign in with your staff account."),
        )
    role = ROLE_NAMES.get(account.role.value, account.role.value)
    body = (
        f'<div class="card"><h2>Welcome, {html.escape(account.display_name)}</h2>'
        f'<p class="muted">Signed in as {html.escape(role)}.</p></div>'
    )
    return page(
        title="carebot staff",
        heading="carebot staff",
        header_right=sign_out_button("/staff/logout", account.display_name),
        body=body,
    )


async def staff_login(request: web.Request) -> web.StreamResponse:
    """Check the credentials; only providers, care managers and admins sign in here."""
    account = await sign_in(request)
    if account is None or not account.is_staff:
        return page(
            title="carebot staff: sign in",
            heading="carebot staff",
            body=sign_in_form(
                "/staff/login",
                "Sign in with your staff account.",
                error="Wrong username or password.",
            ),
            status=401,
        )
    response = see_other("/staff")
    start_session(request, response, STAFF, account)
    return response


async def staff_logout(request: web.Request) -> web.StreamResponse:
    """End the staff session."""
    response = see_other("/staff")
    end_session(response, STAFF)
    return response


def add_routes(app: web.Application) -> None:
    """Mount the staff area."""
    app.router.add_get("/staff", staff_home)
    app.router.add_post("/staff/login", staff_login)
    app.router.add_post("/staff/logout", staff_logout)
