"""The patient portal: sign-in, then Microsoft's Web Chat over the local Direct Line."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

from aiohttp import web

from bot.csrf import csrf_token
from bot.directline.routes import DIRECTLINE_AUDIENCE, TOKEN_TTL_SECONDS
from bot.http_json import json_error, read_json_object
from bot.pages import page, script_response, sign_out_button
from bot.rendering import LOCALES
from bot.services import SERVICES
from bot.web_sessions import PORTAL, current_account, current_session, login, logout, sign_in_page
from dialogs.texts import language_from_locale

CHAT_SCRIPT = files("bot").joinpath("portal/chat.js")
SIGN_OUT = {"en": "Sign out", "fr": "Se déconnecter"}
NEW_CONVERSATION = {
    "en": '<button type="button" id="new-conversation">New conversation</button>',
    "fr": '<button type="button" id="new-conversation">Nouvelle conversation</button>',
}


async def portal_home(request: web.Request) -> web.Response:
    """The chat for a signed-in patient, else the sign-in form."""
    account = await current_account(request, PORTAL)
    if account is None:
        return sign_in_page(request, PORTAL)
    lang = language_from_locale(account.language) or "en"
    return page(
        request,
        title="carebot",
        heading="carebot",
        lang=lang,
        header_right=NEW_CONVERSATION[lang]
        + sign_out_button(
            "/portal/logout", account.display_name, csrf_token(request), SIGN_OUT[lang]
        ),
        body='<div id="webchat" role="main"></div>',
        scripts=("/portal/webchat.js", "/portal/chat.js"),
    )


async def portal_login(request: web.Request) -> web.StreamResponse:
    """Only patients sign in here."""
    return await login(request, PORTAL)


async def portal_logout(request: web.Request) -> web.StreamResponse:
    """End the portal session."""
    return await logout(request, PORTAL)


async def directline_token(request: web.Request) -> web.Response:
    """A Direct Line token for the signed-in patient (identity comes from the session).

    The token names the session, so it is refreshed only while the patient stays signed in.
    It resumes the patient's latest conversation (its history is in our Direct Line tables,
    however old), unless the body asks for a new one (`{"new": true}`)."""
    signed_in = await current_session(request, PORTAL)
    if signed_in is None:
        return json_error(401, "Unauthorized", "sign in first")
    account = signed_in.account
    body = await read_json_object(request, limit=4096)
    browser_locale = str(body.get("locale") or "")[:16]
    language = language_from_locale(account.language) or language_from_locale(browser_locale)
    locale = LOCALES.get(language or "", "en-US")
    services = request.app[SERVICES]
    resumed = (
        None
        if body.get("new") is True
        else await services.directline.latest_conversation(account.id)
    )
    token = services.signer.issue(
        account.id, DIRECTLINE_AUDIENCE, TOKEN_TTL_SECONDS, locale=locale, sid=signed_in.session_id,
        **({"conv": resumed} if resumed else {}),
    )  # fmt: skip
    return web.json_response(
        {
            "token": token,
            "expires_in": TOKEN_TTL_SECONDS,
            "userId": account.id,
            "userName": account.display_name,
            "locale": locale,
            # server time, so the page reacts only to bot messages newer than its chat
            "issuedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
    )


async def chat_script(request: web.Request) -> web.Response:
    """The portal's own script that starts Web Chat."""
    return script_response(CHAT_SCRIPT)


async def webchat_bundle(request: web.Request) -> web.StreamResponse:
    """Microsoft's Web Chat bundle, installed from the npm registry by the setup."""
    path = request.app[SERVICES].settings.webchat_dir / "webchat.js"
    if not path.is_file():
        return json_error(503, "WebChatMissing", "run `make run` to install Web Chat")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


async def root(request: web.Request) -> web.StreamResponse:
    """The site root leads to the portal."""
    raise web.HTTPFound("/portal")


def add_routes(app: web.Application) -> None:
    """Mount the portal pages."""
    app.router.add_get("/", root)
    app.router.add_get("/portal", portal_home)
    app.router.add_post("/portal/login", portal_login)
    app.router.add_post("/portal/logout", portal_logout)
    app.router.add_post("/portal/api/directline-token", directline_token)
    app.router.add_get("/portal/webchat.js", webchat_bundle)
    app.router.add_get("/portal/chat.js", chat_script)
