"""Security headers on every response: CSP (with a per-request nonce for our pages), HSTS on
https, no MIME sniffing, no cross-site referrers, and who may frame us (configurable, for a
later Teams tab)."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.services import SERVICES

_CSP_NONCE: web.RequestKey[str] = web.RequestKey("carebot_csp_nonce", str)
HSTS = "max-age=31536000"


def csp_nonce(request: web.Request) -> str:
    """This request's nonce for the `<script>` and `<style>` elements of its page."""
    nonce = request.get(_CSP_NONCE)
    if nonce is None:
        nonce = request[_CSP_NONCE] = secrets.token_urlsafe(16)
    return nonce


def page_policy(nonce: str, frame_ancestors: str) -> str:
    """The CSP of our HTML pages: only our own scripts (from our origin, with the nonce).

    Styles may be inline: Web Chat 4.18 injects some `<style>` elements without the nonce it
    is given (react-scroll-to-bottom's), and a nonce in style-src would block them. Scripts,
    where an injection would do harm, stay strict."""
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; "
        f"frame-ancestors {frame_ancestors}"
    )


def other_policy(frame_ancestors: str) -> str:
    """The CSP of everything else (JSON, FHIR, scripts): nothing may run or load."""
    return f"default-src 'none'; frame-ancestors {frame_ancestors}; sandbox"


def security_headers_for(
    *, is_page: bool, nonce: str | None, https: bool, frame_ancestors: str
) -> dict[str, str]:
    """The headers a response gets (pure, so every combination is easy to test)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": (
            page_policy(nonce, frame_ancestors)
            if is_page and nonce is not None
            else other_policy(frame_ancestors)
        ),
    }
    if frame_ancestors.strip() == "'none'":
        headers["X-Frame-Options"] = "DENY"
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


def _apply(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    settings = request.app[SERVICES].settings
    headers = security_headers_for(
        is_page=response.content_type == "text/html",
        nonce=request.get(_CSP_NONCE),
        https=settings.base_url.startswith("https://"),
        frame_ancestors=settings.frame_ancestors,
    )
    for name, value in headers.items():
        response.headers.setdefault(name, value)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add the security headers to whatever the handler answered (errors included)."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _apply(request, error)
        raise
    _apply(request, response)
    return response
