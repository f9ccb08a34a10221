"""Pure parts: FHIR date ranges, search plans, scopes, index extraction, the query builder."""

from __future__ import annotations

from datetime import datetime

import pytest
from fhir.resources.R4B.observation import Observation

from integrations.fhir.search import SearchQuery
from integrations.fhir_store.dates import DateFormatError, parse_range
from integrations.fhir_store.extract import IndexRow, compartment_patient, index_resource
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.query import TokenValue, build_plan, parse_token
from integrations.fhir_store.rules import snomed_id_ok, xhtml_problems
from integrations.fhir_store.scopes import Action, Grant, ScopeError, parse_scope, parse_scopes


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2024", datetime(2024, 1, 1), datetime(2025, 1, 1)),
        ("2024-02", datetime(2024, 2, 1), datetime(2024, 3, 1)),
        ("2024-12", datetime(2024, 12, 1), datetime(2025, 1, 1)),
        ("2024-02-29", datetime(2024, 2, 29), datetime(2024, 3, 1)),
        ("2024-02-29T10:00", datetime(2024, 2, 29, 10), datetime(2024, 2, 29, 10, 1)),
        ("2024-02-29T10:00:05Z", datetime(2024, 2, 29, 10, 0, 5), datetime(2024, 2, 29, 10, 0, 6)),
        ("2024-01-01T01:00:00+02:00", datetime(2023, 12, 31, 23), datetime(2023, 12, 31, 23, 0, 1)),
        (
            "2024-01-01T00:00:00.25Z",
            datetime(2024, 1, 1, 0, 0, 0, 250000),
            datetime(2024, 1, 1, 0, 0, 0, 260000),
        ),
    ],
)
def test_date_ranges(text: str, low: datetime, high: datetime) -> None:
    assert parse_range(text) == (low, high)


@pytest.mark.parametrize(
    "text", ["2024-13", "2023-02-29", "24", "2024-01-01T25:00:00Z", "yesterday"]
)
def test_bad_dates(text: str) -> None:
    with pytest.raises(DateFormatError):
        parse_range(text)


def test_tokens_and_plans() -> None:
    assert parse_token("http://loinc.org|8867-4") == TokenValue("http://loinc.org", "8867-4")
    assert parse_token("|x") == TokenValue("", "x")
    assert parse_token("sys|") == TokenValue("sys", None)
    plan = build_plan(
        "Observation",
        [
            ("patient", "42"),
            ("date", "ge2024-01"),
            ("_count", "5"),
            ("_sort", "-date"),
            ("_include", "Observation:patient"),
        ],
    )
    assert plan.filters[0].references == ("Patient/42",)
    assert plan.filters[1].dates[0].prefix == "ge"
    assert plan.count == 5 and plan.sort == [("date", True)]
    for bad in [
        ("colour", "x"),
        ("_count", "-1"),
        ("_sort", "patient"),
        ("date", "xx2024"),
        ("code:below", "x"),
        ("value-quantity", "gtabc"),
        ("subject:Patient.colour", "x"),
        ("_summary", "maybe"),
        ("status:missing", "maybe"),
        ("_has:Observation:subject", "x"),
        ("_include", "Patient:link"),
    ]:
        with pytest.raises(StoreError) as error:
            build_plan("Observation", [bad])
        assert error.value.status == 400
    assert build_plan("Observation", [("colour", "x")], lenient=True).filters == []


def test_scopes() -> None:
    assert parse_scope("system/Observation.write").letters == frozenset("cud")
    assert parse_scope("patient/*.read").letters == frozenset("rs")
    assert parse_scope("user/Patient.cruds").letters == frozenset("cruds")
    with pytest.raises(ScopeError):
        parse_scope("system/Observation.fly")
    gateway = Grant("1", "gw", parse_scopes("system/Observation.write"))
    assert gateway.allows("Observation", Action.CREATE)
    assert not gateway.allows("Observation", Action.READ)
    assert not gateway.allows("Patient", Action.CREATE)
    assert not gateway.person_bound
    reader = Grant("2", "scoring", parse_scopes("system/*.read"))
    assert reader.allows_all_types(Action.SEARCH) and not reader.allows("Flag", Action.CREATE)
    assert Grant("3", "p", parse_scopes("patient/*.read"), "Patient/1").person_bound


def test_index_rows_of_a_vital_sign() -> None:
    obs = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "http://example.org/fhir/Patient/7/_history/2"},
        "effectivePeriod": {"start": "2024-01-01T10:00:00Z"},
    }
    rows = index_resource(obs)
    low, high = datetime(2024, 1, 1, 10), datetime(9999, 12, 31)
    # Every row of an Observation carries its date (so `date` has no rows of its own: its
    # searches read the one `status` row); `patient` is searched on `subject` rows.
    assert IndexRow("code", "http://loinc.org", "8867-4", low, high) in rows
    assert IndexRow("subject", value="Patient/7", low=low, high=high) in rows
    assert IndexRow("status", value="final", low=low, high=high) in rows
    assert {r.param for r in rows} == {"code", "subject", "status"}
    assert compartment_patient(obs) == "Patient/7"
    group = {**obs, "subject": {"reference": "Group/1"}}
    assert compartment_patient(group) is None


def test_narrative_and_snomed_rules() -> None:
    ok = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Heart rate <b>72</b></p></div>'
    assert xhtml_problems(ok) == []
    assert xhtml_problems(ok.replace("<b>72</b>", "<script>x()</script>"))
    assert xhtml_problems(ok.replace("<p>", '<p onclick="x()">'))
    assert xhtml_problems('<div xmlns="http://www.w3.org/1999/xhtml">&reg;</div>')
    assert snomed_id_ok("276885007") and not snomed_id_ok("276885008")
    assert not snomed_id_ok("276885007x")


def test_search_builder_is_pure() -> None:
    query = (
        SearchQuery(Observation)
        .where(patient="Patient/1", clinical_status="active")
        .where(date=["ge2024-01-01", "lt2024-01-08"])
        .sort("-date")
        .count(10)
        .include("Observation:patient")
    )
    assert query.params() == [
        ("patient", "Patient/1"),
        ("clinical-status", "active"),
        ("date", "ge2024-01-01"),
        ("date", "lt2024-01-08"),
        ("_sort", "-date"),
        ("_count", "10"),
        ("_include", "Observation:patient"),
    ]
    assert query.resource_type == "Observation"
    assert "date=ge2024-01-01" in query.query_string()


def test_a_prepared_create_stores_the_same_text_as_dumping_it_whole() -> None:
    from integrations.fhir_store.records import dump_json, prepare_create, with_meta
    from integrations.fhir_store.writer import Writer

    obs = {
        "resourceType": "Observation",
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},
        "status": "final",
        "code": {"text": "pulse é"},
    }
    writer = Writer(None)  # type: ignore[arg-type]
    result = writer.add_created(prepare_create(obs, "o-1"), obs)
    stored = result.stored
    whole = with_meta(obs, "o-1", 1, stored.last_updated)
    assert stored.content == whole
    assert writer.versions[0]["content"] == dump_json(whole)
    assert list(whole) == ["resourceType", "id", "status", "code", "meta"]
