"""Async FHIR R4 client (httpx, `fhir.resources.R4B`): see `integrations.fhir.client`."""

from integrations.fhir.auth import BearerAuth, ClientCredentialsAuth
from integrations.fhir.client import FhirClient
from integrations.fhir.errors import (
    AccessDenied,
    AuthenticationFailed,
    FhirError,
    InvalidResource,
    OffBaseUrl,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
)
from integrations.fhir.search import SearchQuery

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "BearerAuth",
    "ClientCredentialsAuth",
    "FhirClient",
    "FhirError",
    "InvalidResource",
    "OffBaseUrl",
    "PreconditionFailed",
    "ResourceGone",
    "ResourceNotFound",
    "SearchQuery",
]
