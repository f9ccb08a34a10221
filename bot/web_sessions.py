"""Browser sign-in: a signed, HttpOnly session cookie per area (portal, staff).

The cookie names a session row in the database, so signing out ends it at once in every
process. Failed sign-ins are throttled per username and per client address."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.csrf import csrf_token, submitted_form
from bot.http_json import BadRequestError
from bot.pages import page, see_other, sign_in_form
from bot.services import SERVICES
from bot.signing import InvalidTokenError, TokenClaims
from integrations.accounts import Account, Role

SESSION_TTL_SECONDS = 8 * 3600
WRONG_CREDENTIALS = "Wrong username or password."


@dataclass(frozen=True)
class Area:
    """A signed-in area of the site with its own cookie and who it admits."""

    name: str
    cookie: str
    path: str
    heading: str
    intro: str
    admits: Callable[[Account], bool]
    elsewhere: str  # where the others sign in, said on every failed sign-in


@dataclass(frozen=True)
class SignedIn:
    """A live session and the account it belongs to."""

    account: Account
    session_id: str


PORTAL = Area(
    "portal",
    "carebot_portal",
    "/portal",
    "carebot patient portal",
    "Sign in to talk with your care assistant.",
    lambda account: account.role is Role.PATIENT,
    "Care team members sign in at /staff.",
)
STAFF = Area(
    "staff",
    "carebot_staff",
    "/staff",
    "carebot staff",
    "Sign in with your staff account.",
    lambda account: account.is_staff,
    "Patients sign in at the patient portal, /portal.",
)


def _cookie_claims(request: web.Request, area: Area) -> TokenClaims | None:
    signer = request.app[SERVICES].signer
    try:
        return signer.verify(request.cookies.get(area.cookie), f"carebot-{area.name}")
    except InvalidTokenError:
        return None


async def current_session(request: web.Request, area: Area) -> SignedIn | None:
    """The live session of AREA (its account admitted there), or None."""
    claims = _cookie_claims(request, area)
    session_id = claims.extra.get("sid") if claims else None
    if claims is None or session_id is None:
        return None
    services = request.app[SERVICES]
    if await services.web_sessions.live_account_id(session_id, area.name) != claims.subject:
        return None
    account = await services.accounts.get(claims.subject)
    if account is None or not area.admits(account):
        return None
    return SignedIn(account, session_id)


async def current_account(request: web.Request, area: Area) -> Account | None:
    """The account signed in to AREA (and admitted there), or None."""
    signed_in = await current_session(request, area)
    return signed_in.account if signed_in else None


async def require_live_portal_session(request: web.Request, claims: TokenClaims) -> None:
    """BadRequestError (403) unless the portal session named in CLAIMS (a Direct Line
    token's) is still signed in as the token's subject: no new token outlives a sign-out."""
    session_id = claims.extra.get("sid")
    live = session_id and await request.app[SERVICES].web_sessions.live_account_id(
        session_id, PORTAL.name
    )
    if live != claims.subject:
        raise BadRequestError(403, "TokenInvalid", "the sign-in that granted this token ended")


def sign_in_page(
    request: web.Request,
    area: Area,
    error: str | None = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    next_url: str | None = None,
) -> web.Response:
    """AREA's sign-in form (401 when it reports a failed attempt); NEXT_URL, a path of
    AREA's, is where a successful sign-in goes (an app's authorization request)."""
    return page(
        request,
        title=f"{area.heading}: sign in",
        heading=area.heading,
        body=sign_in_form(
            f"{area.path}/login", area.intro, csrf_token(request), error=error, next_url=next_url
        ),
        status=status or (401 if error else 200),
        headers=headers,
    )


def safe_next(area: Area, next_url: str) -> str | None:
    """NEXT_URL when a sign-in to AREA may go there: only AREA's SMART authorization page
    (a path of ours, never another site)."""
    prefix = f"{area.path}/smart/authorize?"
    if next_url.startswith(prefix) and "\\" not in next_url and len(next_url) <= 4096:
        return next_url
    return None


def too_many_attempts(minutes: int) -> str:
    """The message a throttled sign-in gets."""
    return f"Too many attempts, try again in {minutes} minute{'s' if minutes != 1 else ''}."


async def login(request: web.Request, area: Area) -> web.StreamResponse:
    """Check the posted credentials; admitted accounts get AREA's session."""
    services = request.app[SERVICES]
    form = submitted_form(request)
    username = form.get("username", "")[:128]
    password = form.get("password", "")[:256]
    next_url = safe_next(area, form.get("next", ""))
    address = request.remote or ""
    # Checked before the password: while throttled even the right password is refused, and
    # unknown usernames are counted and answered exactly like known ones.
    throttled = await services.sign_in_throttle.check(username, address)
    if throttled is not None:
        return sign_in_page(
            request,
            area,
            error=too_many_attempts(throttled.minutes),
            status=429,
            headers={"Retry-After": str(throttled.retry_after_seconds)},
            next_url=next_url,
        )
    account = (
        await services.accounts.authenticate(username, password) if username and password else None
    )
    if account is None or not area.admits(account):
        await services.sign_in_throttle.record_failure(username, address)
        # the same words for an unknown user, a wrong password and the wrong area: where
        # to sign in instead is said to everyone, so it tells nobody the account exists
        return sign_in_page(
            request, area, error=f"{WRONG_CREDENTIALS} {area.elsewhere}", next_url=next_url
        )
    await services.sign_in_throttle.record_success(username)
    response = see_other(next_url or area.path)
    await start_session(request, response, area, account)
    return response


async def logout(request: web.Request, area: Area) -> web.StreamResponse:
    """End AREA's session: revoked in the database, then the cookie cleared."""
    submitted_form(request)  # only our own sign-out form (CSRF-checked) signs out
    claims = _cookie_claims(request, area)
    session_id = claims.extra.get("sid") if claims else None
    if session_id is not None:
        await request.app[SERVICES].web_sessions.revoke(session_id)
    response = see_other(area.path)
    response.del_cookie(area.cookie, path=area.path)
    return response


async def start_session(
    request: web.Request, response: web.StreamResponse, area: Area, account: Account
) -> None:
    """Open a session of ACCOUNT in AREA and set its cookie on RESPONSE."""
    services = request.app[SERVICES]
    session_id = await services.web_sessions.open(account.id, area.name, SESSION_TTL_SECONDS)
    token = services.signer.issue(
        account.id, f"carebot-{area.name}", SESSION_TTL_SECONDS, sid=session_id
    )
    response.set_cookie(
        area.cookie,
        token,
        max_age=SESSION_TTL_SECONDS,
        path=area.path,
        httponly=True,
        samesite="Lax",
        secure=services.settings.base_url.startswith("https://"),
    )
