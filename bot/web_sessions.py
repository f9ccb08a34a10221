"""Browser sign-in: a signed, HttpOnly session cookie per area (portal, staff)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.pages import page, see_other, sign_in_form
from bot.services import SERVICES
from bot.signing import InvalidTokenError
from integrations.accounts import Account, Role

SESSION_TTL_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Area:
    """A signed-in area of the site with its own cookie and who it admits."""

    name: str
    cookie: str
    path: str
    heading: str
    intro: str
    admits: Callable[[Account], bool]


PORTAL = Area(
    "portal",
    "carebot_portal",
    "/portal",
    "carebot patient portal",
    "Sign in to talk with your care assistant.",
    lambda account: account.role is Role.PATIENT,
)
STAFF = Area(
    "staff",
    "carebot_staff",
    "/staff",
    "carebot staff",
    "Sign in with your staff account.",
    lambda account: account.is_staff,
)


async def current_account(request: web.Request, area: Area) -> Account | None:
    """The account signed in to AREA (and admitted there), or None."""
    services = request.app[SERVICES]
    try:
        claims = services.signer.verify(request.cookies.get(area.cookie), f"carebot-{area.name}")
    except InvalidTokenError:
        return None
    account = await services.accounts.get(claims.subject)
    return account if account is not None and area.admits(account) else None


def sign_in_page(area: Area, error: str | None = None) -> web.Response:
    """AREA's sign-in form (401 when it reports a failed attempt)."""
    return page(
        title=f"{area.heading}: sign in",
        heading=area.heading,
        body=sign_in_form(f"{area.path}/login", area.intro, error=error),
        status=401 if error else 200,
    )


async def login(request: web.Request, area: Area) -> web.StreamResponse:
    """Check the posted credentials; admitted accounts get AREA's session."""
    account = await sign_in(request)
    if account is None or not area.admits(account):
        return sign_in_page(area, error="Wrong username or password.")
    response = see_other(area.path)
    start_session(request, response, area, account)
    return response


async def logout(request: web.Request, area: Area) -> web.StreamResponse:
    """End AREA's session."""
    response = see_other(area.path)
    end_session(response, area)
    return response


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
