"""SMART token, revocation and JWKS endpoints (OAuth 2.0, RFC 6749 / 7636 / 7009 / 7523).

Grants: `authorization_code` (PKCE; a public client names itself with `client_id`, a
confidential one signs a `private_key_jwt` assertion), `refresh_token` (rotating), and
`client_credentials` for backend services (assertion only, `system/` scopes). Access tokens
are the store's own signed tokens (access_tokens.py), marked as an outside client's so the
store audits every access, naming the client. Neither codes nor tokens are logged.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from bot.services import SERVICES
from integrations.fhir_store.access_tokens import MAX_TTL_S, AccessTokenKey
from integrations.fhir_store.scopes import ScopeError, split_scopes
from integrations.fhir_store.smart_assertions import ASSERTION_TYPE, verify_assertion
from integrations.fhir_store.smart_clients import SmartClient, allowed_scopes, smart_client
from integrations.fhir_store.smart_grants import (
    Approval,
    OAuthError,
    issue_refresh,
    redeem_code,
    revoke_refresh,
    rotate_refresh,
)
from integrations.fhir_store.smart_keys import IdTokenKey

ACCESS_TTL_S = MAX_TTL_S
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_FORM = 16 * 1024


class SmartKeys:
    """The keys the token endpoint signs with: the store's access-token key and the
    id_token key."""

    def __init__(self, access: AccessTokenKey, id_tokens: IdTokenKey) -> None:
        self.access = access
        self.id_tokens = id_tokens


SMART_KEYS = web.AppKey("carebot_smart_keys", SmartKeys)


def _error(error: OAuthError) -> web.Response:
    body = {"error": error.code, "error_description": error.description}
    return web.json_response(body, status=error.status, headers=_NO_STORE)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    raw = await request.content.read(_MAX_FORM + 1)
    if len(raw) > _MAX_FORM:
        raise OAuthError("invalid_request", "the request is too large")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as error:
        raise OAuthError("invalid_request", "the body is not UTF-8") from error
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"{name} is given twice")
        form[name] = value
    return form


def token_url(request: web.Request) -> str:
    """This token endpoint's URL as clients address it (the `aud` of their assertions)."""
    return request.app[SERVICES].settings.base_url.rstrip("/") + request.path


async def _client(request: web.Request, form: dict[str, str]) -> SmartClient:
    """The client making the request: by its assertion, or a public one by client_id."""
    sessions = request.app[SERVICES].sessions
    assertion = form.get("client_assertion")
    if assertion is not None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_client", f"client_assertion_type must be {ASSERTION_TYPE}")
        client = await verify_assertion(sessions, assertion, token_url(request))
        if form.get("client_id", client.id) != client.id:
            raise OAuthError("invalid_client", "client_id differs from the assertion's", 401)
        return client
    found = await smart_client(sessions, form.get("client_id", ""))
    if found is None:
        raise OAuthError("invalid_client", "unknown client", 401)
    if found.confidential:
        raise OAuthError("invalid_client", "this client authenticates with an assertion", 401)
    return found


async def _answer(
    request: web.Request,
    client: SmartClient,
    approval: Approval,
    family: str | None,
    refresh_token: str | None = None,
) -> web.Response:
    keys = request.app[SMART_KEYS]
    resource, context = split_scopes(approval.scope)
    access = keys.access.issue(
        f"smart:{client.name}",
        resource,
        patient=approval.patient,
        person=approval.person or None,
        practitioner=approval.practitioner,
        ttl_s=ACCESS_TTL_S,
        outside=True,
    )
    body: dict[str, object] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL_S,
        "scope": approval.scope,
    }
    if approval.patient and "launch/patient" in context:
        body["patient"] = approval.patient.partition("/")[2]
    if {"openid", "fhirUser"} <= context and approval.fhir_user:
        issuer = request.app[SERVICES].settings.base_url.rstrip("/")
        body["id_token"] = await keys.id_tokens.id_token(
            issuer, client.id, approval.person, approval.fhir_user
        )
    if family is not None and "offline_access" in context:
        body["refresh_token"] = await issue_refresh(
            request.app[SERVICES].sessions, approval, family
        )
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return web.json_response(body, headers=_NO_STORE)


async def token(request: web.Request) -> web.Response:
    """The token endpoint."""
    sessions = request.app[SERVICES].sessions
    try:
        form = await _form(request)
        client = await _client(request, form)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            approval, family = await redeem_code(
                sessions,
                form.get("code", ""),
                client.id,
                form.get("redirect_uri", ""),
                form.get("code_verifier", ""),
            )
            return await _answer(request, client, approval, family)
        if grant_type == "refresh_token":
            approval, successor = await rotate_refresh(
                sessions, form.get("refresh_token", ""), client.id, form.get("scope")
            )
            return await _answer(request, client, approval, None, successor)
        if grant_type == "client_credentials":
            if not client.confidential:
                raise OAuthError("unauthorized_client", "client_credentials needs an assertion")
            try:
                granted = allowed_scopes(client, form.get("scope", ""), ("system",))
            except ScopeError as error:
                raise OAuthError("invalid_scope", str(error)) from error
            if not split_scopes(granted)[0]:
                raise OAuthError("invalid_scope", "none of the requested scopes may be granted")
            return await _answer(request, client, Approval(client.id, granted, ""), None)
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as error:
        return _error(error)


async def revoke(request: web.Request) -> web.Response:
    """Revoke a refresh token (RFC 7009): 200 whether or not it was known."""
    try:
        form = await _form(request)
        client = await _client(request, form)
        await revoke_refresh(request.app[SERVICES].sessions, form.get("token", ""), client.id)
    except OAuthError as error:
        return _error(error)
    return web.Response(status=200, headers=_NO_STORE)


async def jwks(request: web.Request) -> web.Response:
    """The public key of the service's id_tokens."""
    return web.json_response(await request.app[SMART_KEYS].id_tokens.jwks())


def add_routes(app: web.Application, oauth_path: str) -> None:
    """Mount the token, revocation and JWKS endpoints."""
    app.router.add_post(f"{oauth_path}/token", token)
    app.router.add_post(f"{oauth_path}/revoke", revoke)
    app.router.add_get(f"{oauth_path}/jwks", jwks)
