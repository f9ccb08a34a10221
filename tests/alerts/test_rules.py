"""Which versions are alerts and who gets them (pure), checked with whole results."""

from __future__ import annotations

from integrations.alerts.codes import (
    BACKUP_CARE_MANAGER_ROLE,
    CARE_MANAGER_ROLE,
    CARE_TEAM_ROLE_SYSTEM,
    RISK_PROBABILITY,
    AlertKind,
)
from integrations.alerts.routing import Route, RoutingDefaults, route
from integrations.alerts.rules import Alert, detect, needs_previous
from tests.alerts.world import care_team, flag, note

AT = "2026-12-04T09:00:00.123Z"


def _versioned(resource: dict[str, object], rid: str, version: str) -> dict[str, object]:
    return {**resource, "id": rid, "meta": {"versionId": version}}


def _risk(rid: str, version: str, risk: str) -> dict[str, object]:
    return {
        "resourceType": "RiskAssessment",
        "id": rid,
        "meta": {"versionId": version},
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "prediction": [
            {"qualitativeRisk": {"coding": [{"system": RISK_PROBABILITY, "code": risk}]}}
        ],
    }


def test_a_new_clinical_note_is_an_alert_and_its_amendment_or_other_documents_are_not() -> None:
    progress = _versioned(note("p1"), "n1", "1")
    assert detect(progress, AT) == Alert(
        AlertKind.NOTE, "DocumentReference/n1", "1", "Patient/p1", AT
    )
    for code in ("34109-9", "11488-4"):
        assert detect(_versioned(note("p1", code=code), "n2", "1"), AT) is not None
    assert detect(_versioned(note("p1"), "n1", "2"), AT) is None  # an amendment
    assert detect(_versioned(note("p1", code="8867-4"), "n3", "1"), AT) is None
    assert detect({**progress, "status": "entered-in-error"}, AT) is None
    assert detect({**progress, "subject": {"reference": "Group/g"}}, AT) is None


def test_a_flag_alerts_when_new_and_active_or_reopened() -> None:
    raised = _versioned(flag("p1", fid="f1"), "f1", "1")
    assert detect(raised, AT) == Alert(AlertKind.FLAG, "Flag/f1", "1", "Patient/p1", AT)
    assert detect({**raised, "status": "inactive"}, AT) is None
    again = _versioned(flag("p1", fid="f1"), "f1", "3")
    assert needs_previous(again)
    closed = _versioned(flag("p1", "inactive", "f1"), "f1", "2")
    assert detect(again, AT, closed) == Alert(AlertKind.FLAG, "Flag/f1", "3", "Patient/p1", AT)
    assert detect(again, AT, _versioned(flag("p1", fid="f1"), "f1", "2")) is None  # still active
    assert not needs_previous(closed)


def test_a_risk_assessment_alerts_when_it_becomes_high() -> None:
    assert detect(_risk("r1", "1", "high"), AT) == Alert(
        AlertKind.RISK, "RiskAssessment/r1", "1", "Patient/p1", AT
    )
    assert detect(_risk("r1", "1", "moderate"), AT) is None
    assert detect(_risk("r1", "2", "high"), AT, _risk("r1", "1", "low")) is not None
    assert detect(_risk("r1", "2", "high"), AT, _risk("r1", "1", "high")) is None


def _member(who: str, *codes: str) -> dict[str, object]:
    roles = [{"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": c}]} for c in codes]
    return {"member": {"reference": who}, "role": roles}


def test_routing_care_manager_then_default_then_unassigned() -> None:
    defaults = RoutingDefaults("Practitioner/default", "Practitioner/backup")
    team = care_team("p1", "Practitioner/cm", "Practitioner/bk")
    assert route([team], defaults) == Route("Practitioner/cm", "Practitioner/bk")
    assert route([care_team("p1", "Practitioner/cm")], defaults) == Route(
        "Practitioner/cm", "Practitioner/backup"
    )
    assert route([care_team("p1", None)], defaults) == Route(
        "Practitioner/default", "Practitioner/backup"
    )
    assert route([care_team("p1", None)], RoutingDefaults()) == Route(None, None)
    assert route([], defaults) == Route(None, None)  # no care team: the unassigned queue
    inactive = {**team, "status": "inactive"}
    assert route([inactive], defaults) == Route(None, None)
    # a role in another code system is not ours; the same person is no backup to themself
    other = {**team, "participant": [
        {"member": {"reference": "Practitioner/x"},
         "role": [{"coding": [{"system": "http://snomed.info/sct", "code": CARE_MANAGER_ROLE}]}]},
        _member("Practitioner/cm", CARE_MANAGER_ROLE, BACKUP_CARE_MANAGER_ROLE),
    ]}  # fmt: skip
    assert route([other], RoutingDefaults()) == Route("Practitioner/cm", None)
