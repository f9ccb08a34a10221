"""Short-lived access tokens signed with the service's key: no database row per token.

The service (`integrations.fhir.access`) issues them for its own work and for each person
it acts for; the store verifies them on every request (`integrations.fhir_store.app`).
A token is an HS256 JWT under a key derived from the service's secret for this one use,
with audience `carebot-fhir`: it carries the client name (`sub`), the SMART scopes, the
patient they are bound to and the person (an account id) on whose behalf it acts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

import jwt

from integrations.fhir_store.scopes import Grant, ScopeError, checked_scopes

AUDIENCE = "carebot-fhir"
ISSUER = "carebot"
DEFAULT_TTL_S = 300
MAX_TTL_S = 3600
_KEY_PURPOSE = b"carebot FHIR access tokens v1"
_PRACTITIONER = re.compile(r"Practitioner/[A-Za-z0-9\-.]{1,64}")


def looks_signed(token: str) -> bool:
    """True for a JWT (three dot-separated parts), as opposed to a registered client's token."""
    return token.count(".") == 2


class AccessTokenKey:
    """Issues and verifies the service's FHIR access tokens."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        # A key of its own, so no other token signed with the secret can pass as this one.
        self._key = hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()

    def issue(
        self,
        client: str,
        scopes: str,
        *,
        patient: str | None = None,
        person: str | None = None,
        practitioner: str | None = None,
        ttl_s: int = DEFAULT_TTL_S,
        outside: bool = False,
    ) -> str:
        """A token for CLIENT with SCOPES (bound to PATIENT, acting for PERSON; for a staff
        member, bound to PRACTITIONER's patients), TTL_S long; OUTSIDE for a SMART client's
        (each of its accesses is audited)."""
        checked_scopes(scopes, patient, person)
        check_staff(scopes, patient, person, practitioner)
        if not 0 < ttl_s <= MAX_TTL_S:
            raise ValueError(f"access tokens live between 1 s and {MAX_TTL_S} s")
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": client,
            "scope": scopes,
            "iat": now,
            "exp": now + ttl_s,
        }
        if patient:
            claims["patient"] = patient
        if person:
            claims["person"] = person
        if practitioner:
            claims["practitioner"] = practitioner
        if outside:
            claims["smart"] = True
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Grant | None:
        """The grant TOKEN carries, or None when it is forged, expired or malformed."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        if int(claims["exp"]) - int(claims["iat"]) > MAX_TTL_S:
            return None
        patient, person = claims.get("patient"), claims.get("person")
        practitioner = claims.get("practitioner")
        if not isinstance(claims.get("scope"), str) or not all(
            isinstance(v, str | None) for v in (patient, person, practitioner)
        ):
            return None
        try:
            scopes = checked_scopes(str(claims["scope"]), patient, person)
            check_staff(str(claims["scope"]), patient, person, practitioner)
        except ScopeError:
            return None
        client = str(claims["sub"])
        outside = claims.get("smart") is True
        return Grant(f"signed:{client}", client, scopes, patient, person, practitioner, outside)


def check_staff(
    scopes: str, patient: str | None, person: str | None, practitioner: str | None
) -> None:
    """A staff token names a Practitioner, acts for a person and only reads (`user/`
    scopes without c, u or d): its compartment is that practitioner's patients."""
    if practitioner is None:
        return
    if _PRACTITIONER.fullmatch(practitioner) is None:
        raise ScopeError(f"a staff token names a Practitioner/id, not {practitioner!r}")
    if patient is not None or person is None:
        raise ScopeError("a staff token acts for a person and is bound to no one patient")
    granted = checked_scopes(scopes, None, person)
    if any(s.context != "user" or s.letters - {"r", "s"} for s in granted):
        raise ScopeError("a staff token carries read-only user/ scopes")
