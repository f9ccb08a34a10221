"""Server-rendered HTML for the portal and staff pages (escaped, no template engine)."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from string import Template

from aiohttp import web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def _base() -> Template:
    return Template(files("bot").joinpath("templates/base.html").read_text(encoding="utf-8"))


def page(
    *,
    title: str,
    heading: str,
    body: str,
    lang: str = "en",
    header_right: str = "",
    scripts: str = "",
    status: int = 200,
) -> web.Response:
    """A full HTML page; BODY, HEADER_RIGHT and SCRIPTS are trusted markup built here."""
    text = _base().substitute(
        lang=html.escape(lang),
        title=html.escape(title),
        heading=html.escape(heading),
        body=body,
        header_right=header_right,
        scripts=scripts,
    )
    return web.Response(
        text=text, content_type="text/html", status=status, headers=SECURITY_HEADERS
    )


def sign_in_form(action: str, intro: str, error: str | None = None) -> str:
    """The sign-in form markup."""
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f'<div class="card signin"><p class="muted">{html.escape(intro)}</p>'
        f'<form method="post" action="{html.escape(action)}">'
        '<label for="username">Username</label>'
        '<input id="username" name="username" type="text" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        f'{message}<button class="primary" type="submit">Sign in</button></form></div>'
    )


def sign_out_button(action: str, who: str) -> str:
    """The header's name and sign-out button."""
    return (
        f'<form method="post" action="{html.escape(action)}">'
        f'<span>{html.escape(who)}</span> <button type="submit">Sign out</button></form>'
    )


def see_other(location: str) -> web.Response:
    """A 303 redirect that can carry cookies (after a form POST)."""
    return web.Response(status=303, headers={"Location": location, **SECURITY_HEADERS})
