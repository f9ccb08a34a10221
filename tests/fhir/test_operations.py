"""`Patient/$everything` (with `_since`, `_type`, paging) and `$validate` on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json, vital_json


async def _call(
    store: RunningStore, method: str, path: str, body: Any = None, token: str | None = None
) -> httpx.Response:
    headers = {
        "Authorization": f"Bearer {token or store.admin_token}",
        "Content-Type": "application/fhir+json",
    }
    return await store.http.request(method, f"{store.base_url}/{path}", json=body, headers=headers)


async def _seed(store: RunningStore) -> tuple[str, str, list[str]]:
    """Two patients; the first with three Observations and a Condition."""
    pid = (await _call(store, "POST", "Patient", patient_json("ev-1"))).json()["id"]
    other = (await _call(store, "POST", "Patient", patient_json("ev-2"))).json()["id"]
    made = []
    for n in range(3):
        obs = vital_json(f"Patient/{pid}", "8867-4", 60 + n, f"2024-01-0{n + 1}T00:00:00Z")
        made.append(f"Observation/{(await _call(store, 'POST', 'Observation', obs)).json()['id']}")
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"text": "asthma"},
    }
    made.append(f"Condition/{(await _call(store, 'POST', 'Condition', condition)).json()['id']}")
    obs = vital_json(f"Patient/{other}", "8867-4", 80, "2024-01-01T00:00:00Z")
    await _call(store, "POST", "Observation", obs)
    return pid, other, made


def _refs(bundle: dict[str, Any]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
    ]


async def test_everything_pages_types_and_since(running_store: RunningStore) -> None:
    pid, _, made = await _seed(running_store)
    whole = await _call(running_store, "GET", f"Patient/{pid}/$everything")
    assert whole.status_code == 200, whole.text
    refs = _refs(whole.json())
    assert refs[0] == f"Patient/{pid}"
    assert sorted(refs[1:]) == sorted(made)  # nothing of the other patient
    assert whole.json()["total"] == 5
    # paging: two at a time, following next links, gives the same set once each
    seen: list[str] = []
    url: str | None = f"{running_store.base_url}/Patient/{pid}/$everything?_count=2"
    while url:
        page = await running_store.http.get(
            url, headers={"Authorization": f"Bearer {running_store.admin_token}"}
        )
        seen += _refs(page.json())
        url = next((x["url"] for x in page.json()["link"] if x["relation"] == "next"), None)
    assert seen == refs
    only = await _call(running_store, "GET", f"Patient/{pid}/$everything?_type=Condition")
    assert _refs(only.json()) == [made[3]]
    # _since: only what changed after the instant
    instant = (await _call(running_store, "GET", made[3])).json()["meta"]["lastUpdated"]
    recent = await _call(running_store, "GET", f"Patient/{pid}/$everything?_since={instant}")
    assert _refs(recent.json()) == [made[3]]
    # bad input: clear 4xx
    for query, status in (
        ("_type=Nope", 400),
        ("_since=yesterday", 400),
        ("_count=0", 400),
        ("start=2020", 400),
    ):
        bad = await _call(running_store, "GET", f"Patient/{pid}/$everything?{query}")
        assert bad.status_code == status, (query, bad.text)
        assert bad.json()["resourceType"] == "OperationOutcome"
    missing = await _call(running_store, "GET", "Patient/nope/$everything")
    assert missing.status_code == 404


async def test_validate_type_and_instance(running_store: RunningStore) -> None:
    pid, _, made = await _seed(running_store)
    good = await _call(running_store, "POST", "Patient/$validate", patient_json("v-1"))
    assert good.status_code == 200
    assert [i["severity"] for i in good.json()["issue"]] == ["information"]
    bad = await _call(
        running_store, "POST", "Patient/$validate", {**patient_json("v-2"), "gender": "often"}
    )
    assert bad.status_code == 200 and bad.json()["issue"][0]["severity"] == "error"
    assert "gender" in bad.json()["issue"][0]["diagnostics"]
    wrapped = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": {"resourceType": "Observation"}}],
    }
    missing_status = await _call(running_store, "POST", "Observation/$validate", wrapped)
    assert missing_status.json()["issue"][0]["severity"] == "error"
    stored = await _call(running_store, "GET", f"{made[0]}/$validate")
    assert stored.json()["issue"][0]["severity"] == "information"
    wrong_id = await _call(
        running_store, "POST", f"Patient/{pid}/$validate", {**patient_json("v-3"), "id": "x"}
    )
    assert wrong_id.json()["issue"][0]["severity"] == "error"
    unknown = await _call(running_store, "POST", "Patient/nope/$validate", patient_json("v-4"))
    assert unknown.status_code == 404
    malformed = await running_store.http.post(
        f"{running_store.base_url}/Patient/$validate",
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {running_store.admin_token}",
            "Content-Type": "application/fhir+json",
        },
    )
    assert malformed.status_code == 400
    count = await _call(running_store, "GET", "Patient?_summary=count")
    assert count.json()["total"] == 2  # validation created nothing


async def test_capability_lists_the_new_interactions(running_store: RunningStore) -> None:
    cap = (await _call(running_store, "GET", "metadata")).json()
    patient = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"code": "patch"} in patient["interaction"]
    assert {o["name"] for o in patient["operation"]} == {"validate", "everything", "export"}
    assert [o["name"] for o in cap["rest"][0]["operation"]] == ["export"]
