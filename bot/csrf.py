"""CSRF protection for the browser areas (`/portal`, `/staff`), sign-in and sign-out included.

Every state-changing request there must come from our own origin: a foreign `Origin` or
`Referer` is refused. Form posts also carry a token: an HMAC of a random nonce kept in a
cookie, so a page elsewhere can neither read nor forge it. Fetch posts (the portal's Direct
Line token request) are JSON, which browsers only send cross-site after a CORS preflight we
never grant, and always with an Origin, which must be ours. Other body types are refused. Form bodies are read here once, with a small
size limit and strict UTF-8, and handed to the handler with `submitted_form`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.http_json import BadRequestError
from bot.pages import CSRF_FIELD, plain_page
from bot.services import SERVICES

CSRF_COOKIE = "carebot_csrf"
CSRF_PURPOSE = "csrf-form"
BROWSER_AREAS = ("/portal", "/staff")
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPE = "application/x-www-form-urlencoded"

_NONCE: web.RequestKey[str] = web.RequestKey("carebot_csrf_nonce", str)
_FORM: web.RequestKey[Mapping[str, str]] = web.RequestKey("carebot_form", Mapping)


class CsrfRefusedError(Exception):
    """The request did not come from one of our own pages."""


def in_browser_area(path: str) -> bool:
    """True for the paths of the signed-in browser areas."""
    return any(path == area or path.startswith(area + "/") for area in BROWSER_AREAS)


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of URL, or None when it has none."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def own_origins(request: web.Request) -> frozenset[str]:
    """The origins our pages are served from: the public URL, and the Host the browser used."""
    public = origin_of(request.app[SERVICES].settings.base_url)
    here = f"{request.scheme}://{request.host}".lower()
    return frozenset(o for o in (public, here) if o)


def check_origin(request: web.Request) -> None:
    """Refuse a foreign (or "null") Origin, or without one a foreign Referer.

    Browsers send Origin with every cross-origin POST; a request with neither header does not
    come from another site's page (the form token still guards forms)."""
    origin = request.headers.get("Origin")
    referer = request.headers.get("Referer")
    if origin is None and not referer:
        return
    claimed = origin.lower() if origin is not None else origin_of(referer or "")
    if claimed not in own_origins(request):
        raise CsrfRefusedError("cross-site request")


def parse_form(body: bytes) -> dict[str, str]:
    """A urlencoded body as fields; BadRequestError for bad UTF-8 or too many fields."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except UnicodeDecodeError:
        raise BadRequestError(400, "BadSyntax", "the form is not valid UTF-8") from None
    except ValueError:
        raise BadRequestError(400, "BadArgument", "too many form fields") from None
    return dict(pairs)


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise BadRequestError(413, "PayloadTooLarge", f"form over {MAX_FORM_BYTES} bytes")
    body = bytearray()
    # read(n) returns what has arrived (up to n bytes), not n: read until the end or the limit.
    while chunk := await request.content.read(MAX_FORM_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequestError(413, "PayloadTooLarge", f"form over {MAX_FORM_BYTES} bytes")
    return parse_form(bytes(body))


def _nonce_from_cookie(request: web.Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.isascii() and value.isalnum() else None


def csrf_token(request: web.Request) -> str:
    """The token that forms on this request's page must send back."""
    return request.app[SERVICES].signer.mac(CSRF_PURPOSE, request[_NONCE])


def submitted_form(request: web.Request) -> Mapping[str, str]:
    """The fields of the form this request posted (checked for CSRF); 415 for other bodies."""
    form: Mapping[str, str] | None = request.get(_FORM)
    if form is None:
        raise BadRequestError(415, "UnsupportedMediaType", f"send {FORM_TYPE}")
    return form


async def _check_unsafe(request: web.Request, nonce: str | None) -> None:
    check_origin(request)
    if request.content_type == FORM_TYPE:
        form = await _read_form(request)
        signer = request.app[SERVICES].signer
        token = form.get(CSRF_FIELD, "")
        if nonce is None or not signer.mac_matches(CSRF_PURPOSE, nonce, token):
            raise CsrfRefusedError("missing or stale form token")
        request[_FORM] = form
    elif request.content_type != "application/json":
        raise BadRequestError(415, "UnsupportedMediaType", f"send {FORM_TYPE}")


def refused_page() -> web.Response:
    """What a refused cross-site or stale form post gets."""
    return plain_page(
        403,
        "This request did not come from this site's own page, or the page is too old. "
        "Go back, reload the page and try again.",
    )


@web.middleware
async def csrf_protection(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check state-changing requests of the browser areas; keep the nonce cookie set."""
    if not in_browser_area(request.path):
        return await handler(request)
    cookie_nonce = _nonce_from_cookie(request)
    if request.method in UNSAFE_METHODS:
        try:
            await _check_unsafe(request, cookie_nonce)
        except CsrfRefusedError:
            return refused_page()
    request[_NONCE] = cookie_nonce or secrets.token_hex(16)
    response = await handler(request)
    if cookie_nonce is None and not response.prepared:
        response.set_cookie(
            CSRF_COOKIE,
            request[_NONCE],
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.app[SERVICES].settings.base_url.startswith("https://"),
        )
    return response
