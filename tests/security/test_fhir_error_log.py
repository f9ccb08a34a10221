"""A request the store fails on is logged by its route, never by its path: the path holds
the patient's id (no health data or identifiers in logs)."""

from __future__ import annotations

import logging

import pytest

from integrations.fhir_store.store import FhirStore
from tests.fhir.conftest import RunningStore, running_store  # noqa: F401


async def test_a_failed_read_logs_the_route_not_the_patients_id(
    running_store: RunningStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(FhirStore, "read", broken)
    with caplog.at_level(logging.ERROR, logger="integrations.fhir_store.app"):
        response = await running_store.http.get(
            f"{running_store.base_url}/Patient/alice-4711",
            headers={"Authorization": f"Bearer {running_store.admin_token}"},
        )
    assert response.status_code == 500
    assert response.json()["resourceType"] == "OperationOutcome"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "FHIR request failed: GET /{type}/{id}" in logged
    assert "alice-4711" not in logged
