"""SMART v2 scope syntax (pure): letters in order, v1 names, query restrictions, context
scopes, and what an access made of them restricts."""

from __future__ import annotations

import pytest

from integrations.fhir_store.access import access_for
from integrations.fhir_store.scopes import (
    Action,
    Grant,
    Scope,
    ScopeError,
    parse_scope,
    parse_scopes,
    split_scopes,
)
from integrations.fhir_store.smart_clients import SmartClient, allowed_scopes

VITALS = "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"


def test_v2_and_v1_scopes_parse_to_the_same_letters() -> None:
    assert parse_scope("patient/Observation.rs") == Scope("patient", "Observation", frozenset("rs"))
    assert parse_scope("patient/Observation.read") == parse_scope("patient/Observation.rs")
    assert parse_scope("user/*.cruds") == Scope("user", "*", frozenset("cruds"))
    assert parse_scope("system/*.write").letters == frozenset("cud")
    assert parse_scope(f"patient/Observation.rs?{VITALS}") == Scope(
        "patient", "Observation", frozenset("rs"), VITALS
    )


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.sr",  # letters out of order
        "patient/Observation.",  # no letters
        "patient/Observation.rx",
        "patient/*.rs?category=vital-signs",  # a restriction names one type
        "patient/Observation.cruds?category=vital-signs",  # restrictions read only
        "patient/Observation.rs?nope=1",  # no such search parameter
        "patient/Observation.rs?_count=1",  # result parameters restrict nothing
        "patient/Observation.rs?date=yesterday",
        "patient/Unknown.rs?code=1",
        "launch/patient",  # a context scope is not a resource scope
    ],
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_scope_lists_split_into_resource_and_context_scopes() -> None:
    text = f"launch/patient openid fhirUser offline_access patient/Observation.rs?{VITALS},x"
    resource, context = split_scopes(text)
    assert context == {"launch/patient", "openid", "fhirUser", "offline_access"}
    assert resource == f"patient/Observation.rs?{VITALS},x"
    assert parse_scopes("system/Patient.read,system/Observation.rs") == (
        Scope("system", "Patient", frozenset("rs")),
        Scope("system", "Observation", frozenset("rs")),
    )
    with pytest.raises(ScopeError):
        split_scopes("openid patient/*.fly")


def test_restrictions_add_up_and_an_unrestricted_scope_lifts_them() -> None:
    restricted = parse_scopes(f"patient/Observation.rs?{VITALS} patient/Observation.rs?code=1")
    access = access_for(Grant("c", "app", restricted, "Patient/1"))
    assert access.types == frozenset({"Observation"})
    assert access.restricted("Observation") == (VITALS, "code=1")
    assert access.restricted("Patient") == ()
    lifted = restricted + parse_scopes("patient/Observation.r")
    assert access_for(Grant("c", "app", lifted, "Patient/1")).restrictions == ()
    # a restricted scope still allows the interaction; the rows are what it restricts
    assert Grant("c", "app", restricted, "Patient/1").allows("Observation", Action.SEARCH)


def test_a_client_is_granted_at_most_its_registered_scopes() -> None:
    client = SmartClient(
        "id",
        "app",
        f"launch/patient patient/Observation.rs?{VITALS} patient/Patient.r",
        (),
        None,
        None,
    )
    asked = f"openid launch/patient patient/Observation.rs?{VITALS} patient/Observation.rs "
    asked += "patient/Patient.rs patient/Patient.r user/*.rs"
    granted = allowed_scopes(client, asked, ("patient",))
    assert granted == f"launch/patient openid patient/Observation.rs?{VITALS} patient/Patient.r"
