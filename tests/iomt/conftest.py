"""Fixtures: the connector on a running embedded store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from integrations.fhir import FhirClient
from integrations.fhir.transactions import put_transaction
from integrations.iomt.identity import IdentityMode, resolver_for
from integrations.iomt.mqtt import MqttConfig
from integrations.iomt.processor import IomtProcessor
from integrations.iomt.store import IomtStore
from tests.fhir.conftest import RunningStore, running_store  # noqa: F401  (fixture)

# the broker `.ci/with-mosquitto` found or started (`make test`), else the machine's own
MQTT_URL = os.environ.get("CAREBOT_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
MQTT_HOST, MQTT_PORT = MqttConfig(MQTT_URL, "#").endpoint()[:2]

# The documentation's heart-rate template (JsonPath) and blood pressure through JMESPath
DEVICE_TEMPLATE: dict[str, Any] = {
    "templateType": "CollectionContent",
    "template": [
        {
            "templateType": "CalculatedContent",
            "template": {
                "typeName": "heartrate",
                "typeMatchExpression": "$..[?(@heartRate)]",
                "deviceIdExpression": "$.matchedToken.deviceId",
                "timestampExpression": "$.matchedToken.endDate",
                "patientIdExpression": "$.matchedToken.patientId",
                "values": [
                    {
                        "required": "true",
                        "valueExpression": "$.matchedToken.heartRate",
                        "valueName": "hr",
                    }
                ],
            },
        },
        {
            "templateType": "CalculatedContent",
            "template": {
                "typeName": "bloodpressure",
                "defaultExpressionLanguage": "JmesPath",
                "typeMatchExpression": {"value": "$..[?(@systolic)]", "language": "JsonPath"},
                "deviceIdExpression": "matchedToken.deviceId",
                "timestampExpression": "matchedToken.endDate",
                "values": [
                    {
                        "required": "true",
                        "valueExpression": "matchedToken.systolic",
                        "valueName": "systolic",
                    },
                    {
                        "required": "true",
                        "valueExpression": "matchedToken.diastolic",
                        "valueName": "diastolic",
                    },
                ],
            },
        },
    ],
}
FHIR_TEMPLATE: dict[str, Any] = {
    "templateType": "CollectionFhir",
    "template": [
        {
            "templateType": "CodeValueFhir",
            "template": {
                "codes": [
                    {"code": "8867-4", "system": "http://loinc.org", "display": "Heart rate"}
                ],
                "periodInterval": 60,
                "typeName": "heartrate",
                "category": [
                    {
                        "codes": [
                            {
                                "code": "vital-signs",
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            }
                        ]
                    }
                ],
                "value": {
                    "defaultPeriod": 5000,
                    "unit": "/min",
                    "valueName": "hr",
                    "valueType": "SampledData",
                },
            },
        },
        {
            "templateType": "CodeValueFhir",
            "template": {
                "codes": [{"code": "85354-9", "system": "http://loinc.org"}],
                "periodInterval": 0,
                "typeName": "bloodpressure",
                "components": [
                    {
                        "codes": [{"code": "8480-6", "system": "http://loinc.org"}],
                        "value": {
                            "valueName": "systolic",
                            "valueType": "Quantity",
                            "unit": "mmHg",
                            "code": "mm[Hg]",
                            "system": "http://unitsofmeasure.org",
                        },
                    },
                    {
                        "codes": [{"code": "8462-4", "system": "http://loinc.org"}],
                        "value": {
                            "valueName": "diastolic",
                            "valueType": "Quantity",
                            "unit": "mmHg",
                            "code": "mm[Hg]",
                            "system": "http://unitsofmeasure.org",
                        },
                    },
                ],
            },
        },
    ],
}


@dataclass
class Connector:
    """The connector's parts on a running store."""

    store: IomtStore
    processor: IomtProcessor
    fhir: FhirClient

    async def drain(self, passes: int = 200) -> None:
        """Run passes until nothing is left to do."""
        for _ in range(passes):
            result = await self.processor.run_once()
            if result.messages == 0 and result.readings == 0:
                return
        raise AssertionError("the connector did not settle")

    async def pair(self, device: str, patient: str) -> None:
        """Create Patient/PATIENT and a Device with identifier DEVICE pointing at it."""
        device_id = f"dev-{patient}-{abs(hash(device)) % 10**8}"
        device_resource = {
            "resourceType": "Device",
            "id": device_id,
            "identifier": [{"system": "urn:test:device", "value": device}],
            "patient": {"reference": f"Patient/{patient}"},
        }
        patient_resource = {"resourceType": "Patient", "id": patient}
        await self.fhir.post_bundle_json(put_transaction((patient_resource, device_resource)))

    async def observations(self) -> list[dict[str, Any]]:
        """Every Observation in the store."""
        out: list[dict[str, Any]] = []
        _, page = await self.fhir.request_json("GET", "Observation", params=[("_count", "1000")])
        while page is not None:
            out.extend(e["resource"] for e in page.get("entry") or [])
            url = next((lk["url"] for lk in page.get("link", []) if lk["relation"] == "next"), None)
            page = None if url is None else (await self.fhir.request_json("GET", url))[1]
        return out


async def make_connector(
    running: RunningStore, mode: IdentityMode = IdentityMode.LOOKUP
) -> Connector:
    """A connector with the test templates loaded."""
    store = IomtStore(running.sessionmaker)
    await store.load_templates(json.dumps(DEVICE_TEMPLATE), json.dumps(FHIR_TEMPLATE))
    fhir = running.client()
    processor = IomtProcessor(store, fhir, resolver_for(mode, fhir), replay_every_s=0.0)
    return Connector(store, processor, fhir)


@pytest.fixture
async def connector(running_store: RunningStore) -> AsyncIterator[Connector]:  # noqa: F811
    """The connector in Lookup mode."""
    yield await make_connector(running_store)
