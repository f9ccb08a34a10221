"""Messages through normalisation, grouping and identity into Observations in the store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from integrations.iomt.identity import IdentityMode, hashed_id
from tests.fhir.conftest import RunningStore
from tests.iomt.conftest import Connector, make_connector


def hr(device: str, value: Any, at: str, patient: str | None = None) -> str:
    body: dict[str, Any] = {"heartRate": value, "endDate": at, "deviceId": device}
    if patient:
        body["patientId"] = patient
    return json.dumps({"Body": body, "Properties": {}, "SystemProperties": {}})


def bp(device: str, systolic: Any, diastolic: Any, at: str) -> str:
    body = {"systolic": systolic, "diastolic": diastolic, "endDate": at, "deviceId": device}
    return json.dumps({"Body": body})


async def test_hourly_sampled_data_and_instance_quantity(connector: Connector) -> None:
    await connector.pair("dev-1", "p1")
    await connector.store.receive(
        "test",
        [
            hr("dev-1", "78", "2019-02-01T22:00:05Z"),
            hr("dev-1", 81, "2019-02-01T22:00:16Z"),
            hr("dev-1", "72", "2019-02-01T23:59:59.9Z"),
            bp("dev-1", "123", "87", "2019-02-01T22:46:01.8750000Z"),
        ],
    )
    await connector.drain()
    found = {
        o["code"]["coding"][0]["code"] + o.get("effectivePeriod", {}).get("start", ""): o
        for o in await connector.observations()
    }
    assert sorted(found) == [
        "85354-9",
        "8867-42019-02-01T22:00:00.000Z",
        "8867-42019-02-01T23:00:00.000Z",
    ]
    first = found["8867-42019-02-01T22:00:00.000Z"]
    data = first["valueSampledData"]["data"].split()
    assert len(data) == 720 and data[1] == "78" and data[3] == "81"
    assert set(data) - {"78", "81"} == {"E"}
    assert first["valueSampledData"]["period"] == 5000
    assert first["effectivePeriod"]["end"] == "2019-02-01T23:00:00.000Z"
    assert first["subject"] == {"reference": "Patient/p1"}
    assert first["category"][0]["coding"][0]["code"] == "vital-signs"
    assert found["8867-42019-02-01T23:00:00.000Z"]["valueSampledData"]["data"].split()[719] == "72"
    pressure = found["85354-9"]
    assert pressure["effectiveDateTime"] == "2019-02-01T22:46:01.875Z"
    assert [
        (c["code"]["coding"][0]["code"], c["valueQuantity"]["value"]) for c in pressure["component"]
    ] == [
        ("8480-6", 123),
        ("8462-4", 87),
    ]
    assert pressure["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    status = await connector.store.status()
    assert status.messages == {"received": 4, "normalised": 4}
    assert status.readings == {"written": 4}


async def test_duplicates_change_nothing_and_late_messages_merge(connector: Connector) -> None:
    await connector.pair("dev-2", "p2")
    await connector.store.receive("test", [hr("dev-2", "60", "2024-05-01T10:00:00Z")])
    await connector.drain()
    [before] = await connector.observations()
    await connector.store.receive("test", [hr("dev-2", "60", "2024-05-01T10:00:00Z")] * 3)
    await connector.drain()
    [same] = await connector.observations()
    assert same["meta"]["versionId"] == before["meta"]["versionId"]
    await connector.store.receive("test", [hr("dev-2", "65", "2024-05-01T10:59:55Z")])
    await connector.drain()
    [late] = await connector.observations()
    assert late["id"] == before["id"] and late["meta"]["versionId"] != before["meta"]["versionId"]
    data = late["valueSampledData"]["data"].split()
    assert data[0] == "60" and data[719] == "65"


async def test_absent_and_non_numeric_values(connector: Connector) -> None:
    await connector.pair("dev-3", "p3")
    await connector.store.receive(
        "test",
        [
            bp("dev-3", "high", None, "2024-05-01T10:00:00Z"),
            hr("dev-3", "n/a", "2024-05-01T10:00:00Z"),
        ],
    )
    await connector.drain()
    by_code = {o["code"]["coding"][0]["code"]: o for o in await connector.observations()}
    systolic, diastolic = by_code["85354-9"]["component"]
    assert systolic["dataAbsentReason"]["coding"][0]["code"] == "not-a-number"
    assert diastolic["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "valueQuantity" not in systolic
    assert set(by_code["8867-4"]["valueSampledData"]["data"].split()) == {"E"}


async def test_unmatched_and_failed_messages_are_kept_and_counted(connector: Connector) -> None:
    await connector.store.receive(
        "test",
        [
            json.dumps({"Body": {"temperature": 37}}),
            hr("dev-4", "70", "not a time"),
            "[not json",
        ],
    )
    await connector.drain()
    status = await connector.store.status()
    assert status.messages == {"received": 3, "unmatched": 1, "failed": 2}
    assert status.reasons["no device template matched"] == 1
    assert any("not an ISO 8601" in reason for reason in status.reasons)
    assert await connector.observations() == []


async def test_unpaired_device_waits_in_quarantine_and_replays_on_pairing(
    connector: Connector,
) -> None:
    await connector.store.receive(
        "test",
        [hr("dev-5", "90", "2024-05-01T10:00:00Z"), hr("dev-5", "91", "2024-05-01T10:00:05Z")],
    )
    await connector.drain()
    assert (await connector.store.status()).readings == {"quarantined": 2}
    assert await connector.observations() == []
    await connector.pair("dev-5", "p5")
    await connector.drain()
    [obs] = await connector.observations()
    assert obs["subject"] == {"reference": "Patient/p5"}
    assert obs["valueSampledData"]["data"].split()[:2] == ["90", "91"]
    assert (await connector.store.status()).readings == {"written": 2}


async def test_create_mode_makes_one_patient_and_device_under_concurrency(
    running_store: RunningStore,
) -> None:
    first = await make_connector(running_store, IdentityMode.CREATE)
    second = await make_connector(running_store, IdentityMode.CREATE)
    messages = [
        hr("dev-6", str(60 + i), f"2024-05-01T10:00:{i:02d}Z", patient="mrn-6") for i in range(10)
    ]
    await first.store.receive("test", messages)
    # two processors (as two processes would) resolve the same new device at once
    await asyncio.gather(first.processor.run_once(), second.processor.run_once())
    await first.drain()
    _, patients = await first.fhir.request_json("GET", "Patient")
    _, devices = await first.fhir.request_json("GET", "Device")
    assert patients is not None and devices is not None
    assert [e["resource"]["id"] for e in patients["entry"]] == [hashed_id("patient", "mrn-6")]
    assert [e["resource"]["id"] for e in devices["entry"]] == [hashed_id("device", "dev-6")]
    [obs] = await first.observations()
    assert obs["subject"]["reference"] == f"Patient/{hashed_id('patient', 'mrn-6')}"
