"""SMART App Launch: the authorization endpoint and the approval pages (standalone launch).

`/auth/authorize` checks the client and its redirect URI and sends the browser to the
portal's page (patient/ scopes) or the staff area's (user/ scopes); there the person signs
in through that area's own sign-in, sees the scopes the app asks for, and approves or
denies. Approval redirects to the app with a one-time code (smart_grants.py), denial with
`access_denied`; `state` is echoed. A redirect URI that is not exactly a registered one
gets an error page here, never a redirect.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from bot.csrf import csrf_token, submitted_form
from bot.pages import csrf_input, page, plain_page, sign_out_button
from bot.security_headers import csp_nonce, page_policy
from bot.services import SERVICES
from bot.web_sessions import PORTAL, STAFF, Area, current_account, sign_in_page
from integrations.accounts import Account
from integrations.fhir.access import STORE_PATH
from integrations.fhir_store.scopes import ScopeError, parse_scope, split_scopes
from integrations.fhir_store.smart_clients import SmartClient, allowed_scopes, smart_client
from integrations.fhir_store.smart_grants import Approval, OAuthError, check_challenge, issue_code

# the request's fields, carried from the authorize URL through sign-in to the approval form
FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "aud",
    "code_challenge",
    "code_challenge_method",
)
_CONTEXTS = {PORTAL.name: ("patient",), STAFF.name: ("user",)}


@dataclass(frozen=True)
class AuthRequest:
    """A checked authorization request."""

    client: SmartClient
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str
    fields: dict[str, str]


def _redirect(uri: str, **params: str) -> web.Response:
    separator = "&" if urlsplit(uri).query else "?"
    target = uri + separator + urlencode({k: v for k, v in params.items() if v})
    return web.Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


async def _client_and_redirect(
    request: web.Request, query: Mapping[str, str]
) -> tuple[SmartClient, str]:
    """The client and its redirect URI, or an error page (never a redirect elsewhere)."""
    sessions = request.app[SERVICES].sessions
    client = await smart_client(sessions, query.get("client_id", ""))
    if client is None:
        raise _page_error("unknown client_id")
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise _page_error("redirect_uri is not one registered for this client")
    return client, redirect_uri


class _PageError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _page_error(message: str) -> _PageError:
    return _PageError(message)


def checked_request(
    request: web.Request, client: SmartClient, redirect_uri: str, query: Mapping[str, str]
) -> AuthRequest:
    """The request, or OAuthError (the app is told through its redirect URI)."""
    if query.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", "response_type must be code")
    if query.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "PKCE with code_challenge_method S256 is required")
    check_challenge(query.get("code_challenge", ""))
    fhir_base = request.app[SERVICES].settings.base_url.rstrip("/") + STORE_PATH
    if query.get("aud", "").rstrip("/") != fhir_base:
        raise OAuthError("invalid_request", f"aud must be this FHIR server, {fhir_base}")
    try:
        split_scopes(query.get("scope", ""))
    except ScopeError as error:
        raise OAuthError("invalid_scope", str(error)) from error
    fields = {name: query.get(name, "")[:2048] for name in FIELDS}
    return AuthRequest(
        client,
        redirect_uri,
        fields["scope"],
        fields["state"],
        fields["code_challenge"],
        fields,
    )


async def authorize(request: web.Request) -> web.StreamResponse:
    """The authorization endpoint: on to the area whose people the scopes are for."""
    try:
        await _client_and_redirect(request, request.query)
    except _PageError as error:
        return plain_page(400, f"This app's sign-in request is not valid: {error.message}.")
    words = request.query.get("scope", "").split()
    area = STAFF if any(w.startswith("user/") for w in words) else PORTAL
    raise web.HTTPFound(f"{area.path}/smart/authorize?{request.query_string}")


def _scope_text(word: str) -> str:
    special = {
        "openid": "know who you are (your sign-in)",
        "fhirUser": "know your record (your FHIR identity)",
        "launch/patient": "know which patient's record it opens",
        "offline_access": "keep access until you revoke it (offline access)",
        "online_access": "keep access while you use it",
        "profile": "see your profile",
        "launch": "start from this site",
    }
    if word in special:
        return special[word]
    scope = parse_scope(word)
    verbs = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
    what = "all records" if scope.resource_type == "*" else f"{scope.resource_type} records"
    done = ", ".join(verbs[c] for c in "cruds" if c in scope.letters)
    limit = f" limited to {scope.restriction}" if scope.restriction else ""
    return f"{done} {what}{limit}"


def _approval_page(
    request: web.Request, area: Area, account: Account, auth: AuthRequest
) -> web.Response:
    granted = allowed_scopes(auth.client, auth.scope, _CONTEXTS[area.name])
    items = "".join(
        f"<li><code>{html.escape(w)}</code>: {html.escape(_scope_text(w))}</li>"
        for w in granted.split()
    )
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in auth.fields.items()
    )
    csrf = csrf_token(request)
    body = (
        f'<div class="card"><h2>{html.escape(auth.client.name)} asks to</h2>'
        f'<ul id="requested-scopes">{items}</ul>'
        f'<form method="post" action="{area.path}/smart/authorize">{csrf_input(csrf)}{hidden}'
        '<button class="primary" type="submit" name="decision" value="approve">Approve</button> '
        '<button type="submit" name="decision" value="deny">Deny</button></form></div>'
    )
    response = page(
        request,
        title="Allow access?",
        heading=area.heading,
        body=body,
        header_right=sign_out_button(f"{area.path}/logout", account.display_name, csrf),
    )
    # the approval form's answer redirects to the app: form-action must allow its origin
    target = urlsplit(auth.redirect_uri)
    policy = page_policy(csp_nonce(request), request.app[SERVICES].settings.frame_ancestors)
    response.headers["Content-Security-Policy"] = policy.replace(
        "form-action 'self'", f"form-action 'self' {target.scheme}://{target.netloc}"
    )
    return response


def _approval(area: Area, account: Account, auth: AuthRequest) -> Approval:
    """What the person approves: the scopes the client may have, bound to them."""
    granted = allowed_scopes(auth.client, auth.scope, _CONTEXTS[area.name])
    resource, _ = split_scopes(granted)
    if not resource:
        raise OAuthError("invalid_scope", "none of the requested scopes may be granted")
    reference = account.fhir_reference or ""
    if area is PORTAL:
        if not reference.startswith("Patient/"):
            raise OAuthError("access_denied", "this account has no patient record")
        return Approval(auth.client.id, granted, account.id, patient=reference, fhir_user=reference)
    if not reference.startswith("Practitioner/"):
        raise OAuthError("access_denied", "this staff account has no Practitioner record")
    # a staff member's token only reads (access_tokens.check_staff)
    words = [w for w in granted.split() if "/" not in w or parse_scope(w).letters <= {"r", "s"}]
    return Approval(
        auth.client.id, " ".join(words), account.id, practitioner=reference, fhir_user=reference
    )


async def _area_authorize(request: web.Request, area: Area) -> web.StreamResponse:
    post = request.method == "POST"
    fields: Mapping[str, str] = submitted_form(request) if post else request.query
    try:
        client, redirect_uri = await _client_and_redirect(request, fields)
    except _PageError as error:
        return plain_page(400, f"This app's sign-in request is not valid: {error.message}.")
    try:
        auth = checked_request(request, client, redirect_uri, fields)
        account = await current_account(request, area)
        if account is None:
            next_url = f"{area.path}/smart/authorize?{urlencode(auth.fields)}"
            return sign_in_page(request, area, next_url=next_url)
        if not post:
            return _approval_page(request, area, account, auth)
        if fields.get("decision") != "approve":
            raise OAuthError("access_denied", "the person denied access")
        approval = _approval(area, account, auth)
        code = await issue_code(
            request.app[SERVICES].sessions, approval, redirect_uri, auth.code_challenge
        )
        return _redirect(redirect_uri, code=code, state=fields.get("state", ""))
    except OAuthError as error:
        return _redirect(
            redirect_uri,
            error=error.code,
            error_description=error.description,
            state=fields.get("state", ""),
        )


async def portal_authorize(request: web.Request) -> web.StreamResponse:
    """A patient's sign-in and approval."""
    return await _area_authorize(request, PORTAL)


async def staff_authorize(request: web.Request) -> web.StreamResponse:
    """A staff member's sign-in and approval."""
    return await _area_authorize(request, STAFF)


def add_routes(app: web.Application, oauth_path: str) -> None:
    """Mount the authorization endpoint and the approval pages."""
    app.router.add_get(f"{oauth_path}/authorize", authorize)
    for path, handler in (("/portal", portal_authorize), ("/staff", staff_authorize)):
        app.router.add_get(f"{path}/smart/authorize", handler)
        app.router.add_post(f"{path}/smart/authorize", handler)
