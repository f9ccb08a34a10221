"""Server-rendered HTML for the portal and staff pages (escaped, no template engine)."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from string import Template

from aiohttp import web

from bot.security_headers import csp_nonce

# The other security headers (CSP, frame-ancestors, HSTS) come from bot/security_headers.py.
NO_STORE = {"Cache-Control": "no-store"}
CSRF_FIELD = "csrf_token"


@cache
def _base() -> Template:
    return Template(files("bot").joinpath("templates/base.html").read_text(encoding="utf-8"))


def page(
    request: web.Request,
    *,
    title: str,
    heading: str,
    body: str,
    lang: str = "en",
    header_right: str = "",
    scripts: tuple[str, ...] = (),
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """A full HTML page; BODY and HEADER_RIGHT are trusted markup built here, SCRIPTS our
    own script URLs (loaded with this request's CSP nonce)."""
    nonce = html.escape(csp_nonce(request))
    text = _base().substitute(
        lang=html.escape(lang),
        title=html.escape(title),
        heading=html.escape(heading),
        body=body,
        header_right=header_right,
        nonce=nonce,
        scripts="".join(
            f'<script src="{html.escape(src)}" nonce="{nonce}"></script>' for src in scripts
        ),
    )
    return web.Response(
        text=text,
        content_type="text/html",
        status=status,
        headers={**NO_STORE, **(headers or {})},
    )


def plain_page(status: int, message: str) -> web.Response:
    """A bare, unstyled HTML page carrying one message (for refusals)."""
    text = (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>carebot</title>'
        f"<p>{html.escape(message)}</p></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status, headers=NO_STORE)


def csrf_input(csrf: str) -> str:
    """The hidden field carrying the page's CSRF token."""
    return _csrf_input(csrf)


def _csrf_input(csrf: str) -> str:
    return f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">'


def sign_in_form(
    action: str, intro: str, csrf: str, error: str | None = None, next_url: str | None = None
) -> str:
    """The sign-in form markup, carrying the page's CSRF token (and where to go next)."""
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    after = f'<input type="hidden" name="next" value="{html.escape(next_url)}">' if next_url else ""
    return (
        f'<div class="card signin"><p class="muted">{html.escape(intro)}</p>'
        f'<form method="post" action="{html.escape(action)}">{_csrf_input(csrf)}{after}'
        '<label for="username">Username</label>'
        '<input id="username" name="username" type="text" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        f'{message}<button class="primary" type="submit">Sign in</button></form></div>'
    )


def sign_out_button(action: str, who: str, csrf: str, label: str = "Sign out") -> str:
    """The header's name and sign-out button (LABEL in the page's language), carrying the
    page's CSRF token."""
    return (
        f'<form method="post" action="{html.escape(action)}">{_csrf_input(csrf)}'
        f'<span>{html.escape(who)}</span> <button type="submit">{html.escape(label)}</button>'
        "</form>"
    )


def script_response(script: Traversable) -> web.Response:
    """One of our own scripts (shipped in the package), revalidated on each load."""
    return web.Response(
        text=script.read_text(encoding="utf-8"),
        content_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


def see_other(location: str) -> web.Response:
    """A 303 redirect that can carry cookies (after a form POST)."""
    return web.Response(status=303, headers={"Location": location, **NO_STORE})
