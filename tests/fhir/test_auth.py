"""Closed by default: tokens and SMART scopes per interaction; patient tokens; AuditEvents."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.fhir_store import list_clients, revoke_client
from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json, vital_json

JSON = "application/fhir+json"


async def _versions(store: RunningStore) -> int:
    response = await store.http.get(
        f"{store.base_url}/_history?_count=1000",
        headers={"Authorization": f"Bearer {store.admin_token}"},
    )
    return len(response.json().get("entry", []))


async def _seed(store: RunningStore) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {store.admin_token}", "Content-Type": JSON}
    pat = (
        await store.http.post(
            f"{store.base_url}/Patient", json=patient_json("auth-1"), headers=headers
        )
    ).json()
    obs = (
        await store.http.post(
            f"{store.base_url}/Observation",
            json=vital_json(
                f"Patient/{pat['id']}", "8867-4", 70, "2024-01-01T00:00:00Z", identifier="auth-obs"
            ),
            headers=headers,
        )
    ).json()
    return pat["id"], obs["id"]


def _interactions(pid: str, oid: str) -> list[tuple[str, str, Any, dict[str, str], str]]:
    obs = vital_json(f"Patient/{pid}", "8867-4", 71, "2024-01-02T00:00:00Z")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": obs,
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }
    batch = {**bundle, "type": "batch"}
    return [
        ("GET", f"Observation/{oid}", None, {}, "read"),
        ("GET", f"Observation/{oid}/_history/1", None, {}, "vread"),
        ("GET", f"Observation?patient=Patient/{pid}", None, {}, "search"),
        ("GET", f"Observation/$lastn?patient=Patient/{pid}", None, {}, "lastn"),
        ("GET", f"Observation/{oid}/_history", None, {}, "history-instance"),
        ("GET", "Observation/_history", None, {}, "history-type"),
        ("GET", "_history", None, {}, "history-system"),
        ("POST", "Observation", obs, {}, "create"),
        ("POST", "Observation", obs, {"If-None-Exist": "identifier=x|y"}, "conditional create"),
        ("PUT", f"Observation/{oid}", {**obs, "id": oid}, {}, "update"),
        (
            "PUT",
            "Observation?identifier=urn:carebot:test:reading|auth-obs",
            obs,
            {},
            "conditional update",
        ),
        ("PATCH", f"Observation/{oid}", [{"op": "remove", "path": "/note"}], {}, "patch"),
        (
            "PATCH",
            "Observation?identifier=urn:carebot:test:reading|auth-obs",
            [{"op": "remove", "path": "/note"}],
            {},
            "conditional patch",
        ),
        ("DELETE", f"Observation/{oid}", None, {}, "delete"),
        (
            "DELETE",
            "Observation?identifier=urn:carebot:test:reading|auth-obs",
            None,
            {},
            "conditional delete",
        ),
        ("POST", "", bundle, {}, "transaction"),
        ("POST", "", batch, {}, "batch"),
    ]


async def test_every_interaction_needs_a_covering_token(running_store: RunningStore) -> None:
    pid, oid = await _seed(running_store)
    other = await running_store.token("practitioner-reader", "system/Practitioner.read")
    before = await _versions(running_store)
    for method, path, body, extra, name in _interactions(pid, oid):
        url = f"{running_store.base_url}/{path}"
        for token, expected in ((None, 401), ("cbf_not-a-token", 401), (other, 403)):
            headers = {"Content-Type": JSON, **extra}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            response = await running_store.http.request(method, url, json=body, headers=headers)
            if name == "batch" and expected == 403:
                # a batch answers 200 with each entry refused on its own
                entry = response.json()["entry"][0]["response"]
                assert entry["status"] == "403", name
                continue
            assert response.status_code == expected, (name, token, response.text)
            assert response.json()["resourceType"] == "OperationOutcome", name
    assert await _versions(running_store) == before


async def test_scopes_grant_exactly_what_they_name(running_store: RunningStore) -> None:
    pid, oid = await _seed(running_store)
    writer = await running_store.token("gateway", "system/Observation.write")
    reader = await running_store.token("scoring", "system/*.read")
    v2 = await running_store.token("v2", "system/Observation.rs")
    obs = vital_json(f"Patient/{pid}", "8867-4", 72, "2024-01-03T00:00:00Z")
    url = f"{running_store.base_url}/Observation"

    async def call(method: str, target: str, token: str, body: Any = None) -> int:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": JSON}
        return (
            await running_store.http.request(method, target, json=body, headers=headers)
        ).status_code

    assert await call("POST", url, writer, obs) == 201
    assert await call("GET", f"{url}/{oid}", writer) == 403
    assert await call("GET", f"{url}/{oid}", reader) == 200
    assert await call("GET", f"{running_store.base_url}/Patient/{pid}", reader) == 200
    assert await call("POST", url, reader, obs) == 403
    assert await call("GET", f"{url}?patient={pid}", v2) == 200
    assert await call("DELETE", f"{url}/{oid}", v2) == 403
    assert await call("GET", f"{running_store.base_url}/_history", v2) == 403
    names = {c.name for c in await list_clients(running_store.sessionmaker)}
    assert {"gateway", "scoring", "v2", "admin"} <= names
    assert await revoke_client(running_store.sessionmaker, "scoring")
    assert await call("GET", f"{url}/{oid}", reader) == 401


async def test_patient_token_sees_only_its_patient_and_is_audited(
    running_store: RunningStore,
) -> None:
    pid, oid = await _seed(running_store)
    other_pid, other_oid = await _seed(running_store)
    token = await running_store.token("portal-user", "patient/*.read", patient=pid)
    headers = {"Authorization": f"Bearer {token}"}
    base = running_store.base_url

    async def status(path: str) -> int:
        return (await running_store.http.get(f"{base}/{path}", headers=headers)).status_code

    assert await status(f"Observation/{oid}") == 200
    assert await status(f"Patient/{pid}") == 200
    assert await status(f"Observation/{other_oid}") == 404
    assert await status(f"Patient/{other_pid}") == 404
    everything = (await running_store.http.get(f"{base}/Observation", headers=headers)).json()
    assert {e["resource"]["subject"]["reference"] for e in everything["entry"]} == {
        f"Patient/{pid}"
    }
    assert await status(f"Observation/$lastn?patient={other_pid}") == 403
    write = await running_store.http.post(
        f"{base}/Observation",
        json=vital_json(f"Patient/{pid}", "8867-4", 1, "2024-01-01"),
        headers={**headers, "Content-Type": JSON},
    )
    assert write.status_code == 403
    admin = {"Authorization": f"Bearer {running_store.admin_token}"}
    audits = (await running_store.http.get(f"{base}/AuditEvent?_count=100", headers=admin)).json()
    events = [e["resource"] for e in audits["entry"]]
    assert len(events) == 7
    assert all(e["agent"][0]["who"]["display"] == "portal-user" for e in events)
    outcomes = sorted(e["outcome"] for e in events)
    assert outcomes.count("0") == 3 and outcomes.count("4") == 4
    read_event = next(
        e for e in events if e["subtype"][0]["code"] == "read" and e["outcome"] == "0"
    )
    assert {"what": {"reference": f"Observation/{oid}"}} in read_event["entity"]


@pytest.mark.parametrize("scopes", ["system/Observation.fly", "nonsense", "system/*.writ"])
async def test_bad_scopes_are_refused_at_registration(
    running_store: RunningStore, scopes: str
) -> None:
    with pytest.raises(ValueError):
        await running_store.token("bad", scopes)
