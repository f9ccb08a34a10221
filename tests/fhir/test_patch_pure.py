"""PATCH bodies applied without a server: RFC 6902's own examples, FHIRPath Patch, merge."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.fhir_store.fhirpath_patch import apply_fhirpath_patch
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.patch import apply_json_patch, apply_patch, merge_patch

# RFC 6902 Appendix A: (document, patch, result)
RFC6902_EXAMPLES: list[tuple[Any, list[dict[str, Any]], Any]] = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
]


@pytest.mark.parametrize(("document", "patch", "result"), RFC6902_EXAMPLES)
def test_rfc6902_examples(document: Any, patch: list[dict[str, Any]], result: Any) -> None:
    before = repr(document)
    assert apply_json_patch(document, patch) == result
    assert repr(document) == before  # the input is left as it was


@pytest.mark.parametrize(
    ("document", "patch", "status"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], 422),  # A.9
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], 422),  # A.12
        ({"foo": "bar"}, [{"op": "remove", "path": "/nope"}], 422),
        ({"foo": "bar"}, [{"op": "frobnicate", "path": "/foo"}], 400),
        ({"foo": "bar"}, [{"op": "add", "path": "/x"}], 400),  # add without value
        ({"foo": "bar"}, {"op": "add"}, 400),
        ({"foo": "bar"}, [], 400),
    ],
)
def test_json_patch_errors(document: Any, patch: Any, status: int) -> None:
    with pytest.raises(StoreError) as caught:
        apply_json_patch(document, patch)
    assert caught.value.status == status


def test_merge_patch_rfc7386_example() -> None:
    target = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


def _operation(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    part: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    for name, value in parts.items():
        if name == "value":
            part.append({"name": "value", **value})
        elif isinstance(value, int):
            part.append({"name": name, "valueInteger": value})
        else:
            part.append({"name": name, "valueString": value})
    return {"name": "operation", "part": part}


def _fhirpatch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "birthDate": "1920-01-01",
    "identifier": [{"system": "urn:a", "value": "1"}, {"system": "urn:b", "value": "2"}],
    "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
    "contact": [{"gender": "male"}],
}


def test_fhirpath_replace_add_insert_delete_move() -> None:
    patched = apply_fhirpath_patch(
        PATIENT,
        _fhirpatch(
            _operation("replace", "Patient.birthDate", value={"valueDate": "1930-01-01"}),
            _operation("add", "Patient", name="gender", value={"valueCode": "male"}),
            _operation(
                "add",
                "Patient",
                name="telecom",
                value={
                    "part": [
                        {"name": "system", "valueCode": "email"},
                        {"name": "value", "valueString": "p@example.org"},
                    ]
                },
            ),
            _operation(
                "insert",
                "Patient.identifier",
                index=0,
                value={"valueIdentifier": {"system": "urn:c", "value": "3"}},
            ),
            _operation("delete", "Patient.contact[0]"),
            _operation("move", "Patient.name[0].given", source=1, destination=0),
            _operation("add", "Patient.name[0]", name="given", value={"valueString": "Jim"}),
        ),
    )
    assert patched == {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "1930-01-01",
        "gender": "male",
        "telecom": [{"system": "email", "value": "p@example.org"}],
        "identifier": [
            {"system": "urn:c", "value": "3"},
            {"system": "urn:a", "value": "1"},
            {"system": "urn:b", "value": "2"},
        ],
        "name": [{"family": "Chalmers", "given": ["James", "Peter", "Jim"]}],
    }
    assert PATIENT["birthDate"] == "1920-01-01"  # the input is left as it was


def test_fhirpath_choice_element_by_plain_name() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "hr"},
        "valueQuantity": {"value": 70, "unit": "/min"},
    }
    patched = apply_fhirpath_patch(
        obs, _fhirpatch(_operation("replace", "Observation.value", value={"valueString": "n/a"}))
    )
    assert patched == {
        **{k: v for k, v in obs.items() if k != "valueQuantity"},
        "valueString": "n/a",
    }
    deleted = apply_fhirpath_patch(obs, _fhirpatch(_operation("delete", "Observation.value")))
    assert "valueQuantity" not in deleted


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        (_operation("replace", "Patient.name.where(family='x')", value={"valueString": "y"}), 400),
        (_operation("replace", "Observation.status", value={"valueCode": "x"}), 400),
        (_operation("replace", "Patient.identifier", value={"valueString": "x"}), 422),  # 2 match
        (_operation("replace", "Patient.gender", value={"valueCode": "male"}), 422),  # none
        (_operation("add", "Patient", name="birthDate", value={"valueDate": "2000-01-01"}), 422),
        (_operation("insert", "Patient.identifier", index=9, value={"valueString": "x"}), 422),
        (_operation("move", "Patient.identifier", source=0, destination=5), 422),
        (_operation("explode", "Patient.gender"), 400),
        (_operation("replace", "Patient.birthDate"), 400),  # no value
        (_operation("insert", "Patient.birthDate", index=0, value={"valueDate": "2000"}), 422),
    ],
)
def test_fhirpath_patch_errors(operation: dict[str, Any], status: int) -> None:
    with pytest.raises(StoreError) as caught:
        apply_fhirpath_patch(PATIENT, _fhirpatch(operation))
    assert caught.value.status == status


def test_content_types_choose_the_patch_kind() -> None:
    doc = {"resourceType": "Patient", "id": "p", "active": True}
    ops = [{"op": "replace", "path": "/active", "value": False}]
    assert apply_patch(doc, "application/json-patch+json", ops)["active"] is False
    assert apply_patch(doc, "application/json", ops)["active"] is False
    assert apply_patch(doc, "application/json", {"active": None}) == {
        "resourceType": "Patient",
        "id": "p",
    }
    with pytest.raises(StoreError) as caught:
        apply_patch(doc, "application/fhir+json", {"resourceType": "Patient"})
    assert caught.value.status == 400
    with pytest.raises(StoreError) as caught:
        apply_patch(doc, "text/plain", ops)
    assert caught.value.status == 415
