"""FHIR errors as our own exceptions, each carrying the server's OperationOutcome."""

from __future__ import annotations

from typing import Any


class FhirError(Exception):
    """A FHIR request failed; `status` is the HTTP status, `outcome` the OperationOutcome JSON."""

    def __init__(self, status: int, message: str, outcome: dict[str, Any] | None = None) -> None:
        self.status = status
        self.message = message
        self.outcome = outcome
        super().__init__(f"{status}: {self.diagnostics}")

    @property
    def diagnostics(self) -> str:
        """The first issue's diagnostics (or the message)."""
        issues = (self.outcome or {}).get("issue") or [{}]
        return str(issues[0].get("diagnostics") or self.message)


class InvalidResource(FhirError):
    """400 or 422: the server refused the content or the request."""


class AuthenticationFailed(FhirError):
    """401: no token, or an unknown or expired one."""


class AccessDenied(FhirError):
    """403: the token's scopes do not cover the request."""


class ResourceNotFound(FhirError):
    """404: no such resource (or type)."""


class MethodNotAllowed(FhirError):
    """405: the server does not support this interaction."""


class Conflict(FhirError):
    """409: a version conflict."""


class ResourceGone(FhirError):
    """410: the resource was deleted."""


class PreconditionFailed(FhirError):
    """412: If-Match did not hold, or a condition matched several resources."""


class TooManyRequests(FhirError):
    """429 after every retry."""


class ServerError(FhirError):
    """5xx."""


class TransportError(FhirError):
    """The server could not be reached (status 0)."""


_BY_STATUS: dict[int, type[FhirError]] = {
    400: InvalidResource,
    401: AuthenticationFailed,
    403: AccessDenied,
    404: ResourceNotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: ResourceGone,
    412: PreconditionFailed,
    422: InvalidResource,
    429: TooManyRequests,
}


class OffBaseUrl(FhirError):
    """A URL outside the client's base URL (a `next` link, a Location): never followed, so
    the client's token is never sent elsewhere."""


def error_for(status: int, message: str, outcome: dict[str, Any] | None) -> FhirError:
    """The exception class matching STATUS."""
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else FhirError)
    return cls(status, message, outcome)
