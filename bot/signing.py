"""Signed, expiring tokens for browser sessions and local Direct Line conversations."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import jwt

RESERVED_CLAIMS = frozenset({"sub", "aud", "iat", "exp"})


class InvalidTokenError(Exception):
    """The token is missing, forged, expired or meant for something else."""


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    subject: str
    audience: str
    expires_at: int
    extra: Mapping[str, str] = field(default_factory=dict)


class Signer:
    """HMAC-SHA256 JWTs with one audience per use (portal session, staff session, Direct Line)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the signing secret must be at least 32 characters")
        self._secret = secret

    def issue(self, subject: str, audience: str, ttl_seconds: int, **extra: str) -> str:
        """A token for SUBJECT valid for TTL_SECONDS, carrying the EXTRA string claims."""
        if RESERVED_CLAIMS & extra.keys():
            raise ValueError("extra claims may not override sub, aud, iat or exp")
        now = int(time.time())
        claims: dict[str, object] = {**extra, "sub": subject, "aud": audience, "iat": now}
        claims["exp"] = now + ttl_seconds
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str | None, audience: str) -> TokenClaims:
        """The claims of TOKEN if it is valid for AUDIENCE, else InvalidTokenError."""
        if not token:
            raise InvalidTokenError("no token")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=audience,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(type(error).__name__) from None
        extra = {k: str(v) for k, v in claims.items() if k not in RESERVED_CLAIMS}
        return TokenClaims(
            subject=str(claims["sub"]),
            audience=audience,
            expires_at=int(claims["exp"]),
            extra=extra,
        )

    def mac(self, purpose: str, value: str) -> str:
        """A keyed digest of VALUE for PURPOSE (e.g. a CSRF form token for a cookie nonce)."""
        message = f"{purpose}\n{value}".encode()
        return hmac.new(self._secret.encode(), message, hashlib.sha256).hexdigest()

    def mac_matches(self, purpose: str, value: str, digest: str) -> bool:
        """True when DIGEST is `mac(PURPOSE, VALUE)` (compared in constant time)."""
        return hmac.compare_digest(self.mac(purpose, value), digest)
