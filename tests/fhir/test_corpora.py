"""Reference corpora: HL7 spec examples round-trip, validator cases, Synthea bundles."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from integrations.fhir_store.params import STORED_TYPES
from tests.corpora import corpus
from tests.fhir.conftest import RunningStore

SPEC = corpus("fhir_r4", "hl7_r4_spec_examples")
CASES = corpus("fhir_r4", "validator_cases")
SYNTHEA = corpus("synthea")
JSON = "application/fhir+json"


def _headers(store: RunningStore) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.admin_token}", "Content-Type": JSON}


def _strip(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")}


async def test_spec_examples_round_trip(running_store: RunningStore) -> None:
    stored = refused = 0
    for path in sorted(SPEC.glob("*.json")):
        example = json.loads(path.read_text())
        rtype = example["resourceType"]
        response = await running_store.http.post(
            f"{running_store.base_url}/{rtype}", json=example, headers=_headers(running_store)
        )
        if rtype not in STORED_TYPES:
            assert response.status_code == 404, path.name
            assert "not stored" in response.json()["issue"][0]["diagnostics"]
            refused += 1
            continue
        assert response.status_code == 201, (path.name, response.text[:300])
        read = await running_store.http.get(
            f"{running_store.base_url}/{rtype}/{response.json()['id']}",
            headers=_headers(running_store),
        )
        if rtype == "Subscription" and example["status"] == "requested":
            example = {**example, "status": "active"}  # the server takes it on (R4)
        assert _strip(read.json()) == _strip(example), path.name
        kept_meta = {
            k: v
            for k, v in (example.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")
        }
        assert {k: v for k, v in read.json()["meta"].items() if k in kept_meta} == kept_meta
        stored += 1
    assert stored >= 70 and refused >= 15


def _case_type(raw: bytes, declared: str) -> str:
    match = re.search(rb'"resourceType"\s*:\s*"(\w+)"', raw)
    return match.group(1).decode() if match else declared


async def test_validator_cases_figures(running_store: RunningStore) -> None:
    manifest = json.loads((CASES / "manifest_r4_base.json").read_text())
    tally: Counter[tuple[bool, bool]] = Counter()
    for case in manifest["cases"]:
        expected = case["expected_valid"]
        raw = (CASES / case["file"]).read_bytes()
        # "among the types it stores": the manifest's type (UNPARSEABLE files are not counted)
        if expected is None or case["resourceType"] not in STORED_TYPES:
            continue
        rtype = _case_type(raw, case["resourceType"])
        response = await running_store.http.post(
            f"{running_store.base_url}/{rtype}", content=raw, headers=_headers(running_store)
        )
        assert response.status_code in (201, 400), (case["name"], response.status_code)
        if response.status_code == 400:
            assert response.json()["resourceType"] == "OperationOutcome"
        tally[(expected, response.status_code == 201)] += 1
    accepted = tally[(True, True)] / (tally[(True, True)] + tally[(True, False)])
    rejected = tally[(False, False)] / (tally[(False, False)] + tally[(False, True)])
    print(
        f"validator cases: accepted {tally[(True, True)]}/{tally[(True, True)] + tally[(True, False)]}"
        f" valid ({accepted:.1%}), rejected {tally[(False, False)]}/"
        f"{tally[(False, False)] + tally[(False, True)]} invalid ({rejected:.1%})"
    )
    assert accepted >= 0.95
    assert rejected >= 0.90


def _as_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    return {**bundle, "type": "transaction"}


async def _count(store: RunningStore, query: str) -> int:
    response = await store.http.get(
        f"{store.base_url}/{query}&_summary=count", headers=_headers(store)
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_synthea_bundles_load_and_searches_count(running_store: RunningStore) -> None:
    for folder in ("smart_generated_sample_data_r4", "nimbus_covid19_juvenile_r4"):
        files = sorted((SYNTHEA / folder).glob("*.json"))
        # organizations and practitioners first, as Synthea's own loaders do
        files.sort(key=lambda p: not p.name.startswith(("hospital", "practitioner")))
        for path in files:
            bundle = json.loads(path.read_text())
            response = await running_store.http.post(
                running_store.base_url,
                json=_as_transaction(bundle),
                headers=_headers(running_store),
            )
            assert response.status_code == 200, (path.name, response.text[:300])
            entries = response.json()["entry"]
            assert all(e["response"]["status"] == "201 Created" for e in entries)
            index = next(
                (
                    i
                    for i, e in enumerate(bundle["entry"])
                    if e["resource"]["resourceType"] == "Patient"
                ),
                None,
            )
            if index is None:
                continue
            pid = entries[index]["response"]["location"].split("/")[1]
            read = await running_store.http.get(
                f"{running_store.base_url}/Patient/{pid}", headers=_headers(running_store)
            )
            assert read.json()["name"] == bundle["entry"][index]["resource"]["name"]
            implied = Counter(e["resource"]["resourceType"] for e in bundle["entry"])
            for rtype in ("Observation", "Encounter", "Condition", "Immunization", "Procedure"):
                assert (
                    await _count(running_store, f"{rtype}?patient=Patient/{pid}") == implied[rtype]
                ), (path.name, rtype)
            heart = sum(
                1
                for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Observation"
                and any(c.get("code") == "8867-4" for c in e["resource"]["code"].get("coding", []))
            )
            assert (
                await _count(
                    running_store, f"Observation?patient={pid}&code=http://loinc.org|8867-4"
                )
                == heart
            )
