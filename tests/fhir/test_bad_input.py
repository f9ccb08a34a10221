"""Bad input gets a 4xx with an OperationOutcome, stores nothing, and the server keeps serving."""

from __future__ import annotations

import json

from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json, vital_json

JSON = "application/fhir+json"


def _deep(levels: int) -> bytes:
    inner = '{"url": "http://x", "valueString": "deep"}'
    for _ in range(levels):
        inner = '{"url": "http://x", "extension": [' + inner + "]}"
    return ('{"resourceType": "Patient", "extension": [' + inner + "]}").encode()


CASES: list[tuple[str, str, bytes, int]] = [
    ("malformed JSON", "Patient", b'{"resourceType": "Patient",}', 400),
    ("not an object", "Patient", b"[1, 2]", 400),
    (
        "type mismatch",
        "Patient",
        json.dumps(vital_json("Patient/1", "8867-4", 1, "2024")).encode(),
        400,
    ),
    ("invalid date", "Patient", json.dumps(patient_json(birthDate="2024-02-30")).encode(), 400),
    (
        "invalid dateTime",
        "Observation",
        json.dumps(vital_json("Patient/1", "8867-4", 1, "2024-01-01T25:00:00Z")).encode(),
        400,
    ),
    ("unknown element", "Patient", json.dumps(patient_json(colour="blue")).encode(), 400),
    (
        "bad status code",
        "Observation",
        json.dumps({**vital_json("Patient/1", "8867-4", 1, "2024"), "status": "nope"}).encode(),
        400,
    ),
    ("bad gender code", "Patient", json.dumps(patient_json(gender="robot")).encode(), 400),
    (
        "missing status",
        "Observation",
        json.dumps(
            {k: v for k, v in vital_json("Patient/1", "8867-4", 1, "2024").items() if k != "status"}
        ).encode(),
        400,
    ),
    ("deep nesting", "Patient", _deep(200), 400),
    (
        "very deep nesting",
        "Patient",
        b'{"resourceType": "Patient", "a": ' + b"[" * 100000 + b"]" * 100000 + b"}",
        400,
    ),
    (
        "10 MB body",
        "Patient",
        json.dumps(
            patient_json(text={"status": "generated", "div": "<div>" + "x" * 10_000_000 + "</div>"})
        ).encode(),
        413,
    ),
    ("empty body", "Patient", b"", 400),
    ("null element", "Patient", b'{"resourceType": "Patient", "gender": null}', 400),
]


async def test_bad_bodies_are_refused(running_store: RunningStore) -> None:
    headers = {"Authorization": f"Bearer {running_store.admin_token}", "Content-Type": JSON}
    base = running_store.base_url
    for name, path, body, status in CASES:
        for method, url in (("POST", f"{base}/{path}"), ("PUT", f"{base}/{path}/fixed-id")):
            response = await running_store.http.request(method, url, content=body, headers=headers)
            assert response.status_code == status, (name, method, response.text[:300])
            assert response.json()["resourceType"] == "OperationOutcome", name
        history = await running_store.http.get(f"{base}/_history", headers=headers)
        assert history.status_code == 200 and history.json()["entry"] == [], name
    ok = await running_store.http.post(f"{base}/Patient", json=patient_json(), headers=headers)
    assert ok.status_code == 201


async def test_wrong_content_type_and_method(running_store: RunningStore) -> None:
    headers = {"Authorization": f"Bearer {running_store.admin_token}"}
    base = running_store.base_url
    xml = await running_store.http.post(
        f"{base}/Patient",
        content=b"<Patient/>",
        headers={**headers, "Content-Type": "application/fhir+xml"},
    )
    assert xml.status_code == 415
    patch = await running_store.http.patch(
        f"{base}/Patient/1/_history", content=b"[]", headers={**headers, "Content-Type": JSON}
    )
    assert patch.status_code == 405 and patch.json()["resourceType"] == "OperationOutcome"
    patch = await running_store.http.patch(
        f"{base}/Patient/1", content=b"[]", headers={**headers, "Content-Type": JSON}
    )
    assert patch.status_code == 404 and patch.json()["resourceType"] == "OperationOutcome"
