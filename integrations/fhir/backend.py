"""Which FHIR server the service talks to: decided here, once, from its settings.

Like bleak's `get_default_backend()`: the app factory (and each CLI entry point) asks once
and hands the answer to `integrations.fhir.access`; no other module re-decides it.
"""

from __future__ import annotations

from enum import StrEnum


class FhirBackend(StrEnum):
    """Where the service's FHIR data lives."""

    EMBEDDED = "embedded"
    """carebot's own store, on the service's database, called in process."""
    OUTSIDE = "outside"
    """Another FHIR R4 server (Azure Health Data Services, HAPI, Medplum) over HTTP."""


def get_default_backend(fhir_url: str) -> FhirBackend:
    """The outside server when a FHIR URL is configured, else the embedded store."""
    return FhirBackend.OUTSIDE if fhir_url.strip() else FhirBackend.EMBEDDED
