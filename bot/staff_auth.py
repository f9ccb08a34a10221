"""Who may open which staff page, decided here and nowhere else.

Every staff route asks `staff_view` for its signed-in member and the roles the route admits;
clinical pages then read FHIR only through the member's staff-bound client
(`FhirAccess.for_staff`), which the store confines to their patients and audits per access
(naming the member, the patient and what was read). A patient id outside that compartment,
or not an id at all, is a 404 from the store or from `check_id`, never another's data.
An administrator sees the audit log but no clinical page (no clinical role).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.pages import plain_page
from bot.services import SERVICES
from bot.web_sessions import STAFF, current_account, sign_in_page
from dialogs.base import Language
from integrations.accounts import Account, Role
from integrations.fhir.client import FhirClient
from integrations.fhir.errors import AccessDenied, ResourceGone, ResourceNotFound

CLINICAL = frozenset({Role.PROVIDER, Role.CARE_MANAGER})
PROVIDERS = frozenset({Role.PROVIDER})
CARE_MANAGERS = frozenset({Role.CARE_MANAGER})
ADMINS = frozenset({Role.ADMIN})
# FHIR ids: [A-Za-z0-9\-\.]{1,64}
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Each role's home page: where /staff sends a signed-in member.
HOMES = {Role.PROVIDER: "/staff/queue", Role.ADMIN: "/staff/audit"}


class SignInNeeded(Exception):
    """No staff session: the page answers with the sign-in form."""


@dataclass(frozen=True)
class StaffView:
    """A signed-in staff member allowed on this page, and how they read FHIR."""

    account: Account
    language: Language
    practitioner: str | None  # `Practitioner/id`, None for a member with no clinical record

    def fhir(self, request: web.Request) -> FhirClient:
        """The member's staff-bound FHIR client (their patients only, audited, read-only)."""
        if self.practitioner is None:
            raise web.HTTPForbidden(text="no clinical record for this account")
        services = request.app[SERVICES]
        return services.fhir.for_staff(self.practitioner, person=self.account.id)


def language_of(account: Account) -> Language:
    """The member's page language: French when their account says so, else English."""
    return "fr" if (account.language or "").lower().startswith("fr") else "en"


async def staff_view(request: web.Request, roles: frozenset[Role]) -> StaffView:
    """The signed-in member when their role is one of ROLES; SignInNeeded without a staff
    session; 403 for another role, or a clinical role without a Practitioner record."""
    account = await current_account(request, STAFF)
    if account is None:
        raise SignInNeeded
    if account.role not in roles:
        raise web.HTTPForbidden(text="this page is not open to your role")
    reference = account.fhir_reference or ""
    practitioner = reference if reference.startswith("Practitioner/") else None
    if roles & CLINICAL and account.role in CLINICAL and practitioner is None:
        raise web.HTTPForbidden(text="no clinical record for this account")
    return StaffView(account, language_of(account), practitioner)


def check_id(value: str) -> str:
    """VALUE when it is a FHIR id; 404 otherwise (an id changed by hand into anything)."""
    if _ID.fullmatch(value) is None:
        raise web.HTTPNotFound(text="not found")
    return value


Handler = Callable[[web.Request, StaffView], Awaitable[web.StreamResponse]]


def guarded(
    roles: frozenset[Role],
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]:
    """A staff route open to ROLES: the handler gets the member's `StaffView`; no session
    gets the sign-in form, a refusal a plain 403 or 404 page (the same for every route)."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request, await staff_view(request, roles))
            except SignInNeeded:
                return sign_in_page(request, STAFF, status=401)
            except (web.HTTPForbidden, AccessDenied):
                return plain_page(403, "You may not open this page.")
            except (web.HTTPNotFound, ResourceNotFound, ResourceGone):
                return plain_page(404, "Not found.")

        return route

    return wrap
