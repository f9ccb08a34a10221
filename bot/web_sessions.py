"""Browser sign-in: a signed, HttpOnly session cookie per area (portal, staff)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.services import SERVICES
from bot.signing import InvalidTokenError
from integrations.accounts import Account

SESSION_TTL_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Area:
    """A signed-in area of the site with its own cookie."""

    name: str
    cookie: str
    path: str


PORTAL = Area("portal", "carebot_portal", "/portal")
STAFF = Area("staff", "carebot_staff", "/staff")


async def current_account(request: web.Request, area: Area) -> Account | None:
    """The account signed in to AREA, or None."""
    services = request.app[SERVICES]
    try:
        claims = services.signer.verify(request.cookies.get(area.cookie), f"carebot-{area.name}")
    except InvalidTokenError:
        return None
    return await services.accounts.get(claims.subject)


def start_session(
    request: web.Request, response: web.StreamResponse, area: Area, account: Account
) -> None:
    """Set AREA's session cookie for ACCOUNT on RESPONSE."""
    services = request.app[SERVICES]
    token = services.signer.issue(account.id, f"carebot-{area.name}", SESSION_TTL_SECONDS)
    response.set_cookie(
        area.cookie,
        token,
        max_age=SESSION_TTL_SECONDS,
        path=area.path,
        httponly=True,
        samesite="Lax",
        secure=services.settings.base_url.startswith("https://"),
    )


def end_session(response: web.StreamResponse, area: Area) -> None:
    """Clear AREA's session cookie."""
    response.del_cookie(area.cookie, path=area.path)


async def sign_in(request: web.Request) -> Account | None:
    """The account matching the posted username and password, or None."""
    form = await request.post()
    username = str(form.get("username", ""))[:128]
    password = str(form.get("password", ""))[:256]
    if not username or not password:
        return None
    return await request.app[SERVICES].accounts.authenticate(username, password)
