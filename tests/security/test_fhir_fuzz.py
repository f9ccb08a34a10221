"""Property-based fuzzing of FHIR bodies (issue 10): resource bodies, bundles and search
parameters from hypothesis get a 2xx or a 4xx with an OperationOutcome, never a 5xx, and a
4xx stores nothing. Examples are bounded so the file runs in seconds per database."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.fhir_store.params import SEARCH_PARAMS
from tests.fhir.conftest import RunningStore, running_store  # noqa: F401
from tests.fhir.helpers import vital_json
from tests.security.fhir_world import World, clinical_versions, make_world

FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "Patient/x", "urn:uuid:1"]
    )
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BASE = vital_json("Patient/placeholder", "8867-4", 70, "2024-01-01T00:00:00Z")
KEYS = st.sampled_from([*BASE, "id", "meta", "contained", "component", "issued"]) | st.text(
    max_size=8
)


@pytest.fixture
async def world(running_store: RunningStore) -> World:  # noqa: F811
    """Alice and Bruno in a running store."""
    return await make_world(running_store)


def _mutated(patient: str, changes: list[tuple[str, Any]]) -> dict[str, Any]:
    body = json.loads(json.dumps(BASE).replace("Patient/placeholder", patient))
    for key, value in changes:
        body[key] = value
    return body


async def _check(world: World, response: Any, before: int) -> None:
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
        assert await clinical_versions(world.store) == before, "a 4xx stored something"


@FUZZ
@given(changes=st.lists(st.tuples(KEYS, JSON_VALUES), min_size=1, max_size=3))
async def test_resource_bodies_never_500(world: World, changes: list[tuple[str, Any]]) -> None:
    body = _mutated(world.alice, changes)
    before = await clinical_versions(world.store)
    await _check(world, await world.call("POST", "Observation", body=body), before)
    before = await clinical_versions(world.store)
    rid = world.alice_obs.partition("/")[2]
    update = await world.call("PUT", world.alice_obs, world.alice_token, {**body, "id": rid})
    await _check(world, update, before)


@FUZZ
@given(raw=st.binary(max_size=64))
async def test_raw_bodies_never_500(world: World, raw: bytes) -> None:
    before = await clinical_versions(world.store)
    for path in ("Observation", "", "Observation/_search"):
        headers = (
            {"Content-Type": "application/x-www-form-urlencoded"} if "_search" in path else None
        )
        await _check(world, await world.call("POST", path, content=raw, headers=headers), before)


ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "fullUrl": JSON_VALUES,
        "resource": st.just(BASE) | JSON_VALUES,
        "request": st.fixed_dictionaries(
            {},
            optional={
                "method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]) | JSON_VALUES,
                "url": st.sampled_from(["Observation", "Observation/x", "Patient?_id=1"])
                | JSON_VALUES,
                "ifNoneExist": st.just("identifier=a|b") | JSON_VALUES,
                "ifMatch": st.just('W/"1"') | JSON_VALUES,
            },
        )
        | JSON_VALUES,
    },
)


@FUZZ
@given(
    kind=st.sampled_from(["transaction", "batch"]) | JSON_VALUES,
    entries=st.lists(ENTRY, max_size=3) | JSON_VALUES,
)
async def test_bundles_never_500(world: World, kind: Any, entries: Any) -> None:
    bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
    before = await clinical_versions(world.store)
    await _check(world, await world.call("POST", "", body=bundle), before)


RESULT = ["_id", "_lastUpdated", "_count", "_getpagesoffset", "_sort", "_include", "_summary"]
NAMES = st.sampled_from(
    [*sorted({n for params in SEARCH_PARAMS.values() for n in params}), *RESULT]
) | st.text(max_size=8)


@FUZZ
@given(
    resource_type=st.sampled_from(["Observation", "Patient", "Appointment", "AuditEvent"]),
    params=st.lists(st.tuples(NAMES, st.text(max_size=16)), max_size=4),
)
async def test_search_params_never_500(
    world: World, resource_type: str, params: list[tuple[str, str]]
) -> None:
    before = await clinical_versions(world.store)
    query = urlencode(params)
    for token in (None, world.alice_token):
        await _check(world, await world.call("GET", f"{resource_type}?{query}", token), before)
        conditional = await world.call(
            "POST",
            "Observation",
            token,
            _mutated(world.alice, []),
            {"If-None-Exist": query or "_id=x"},
        )
        await _check(world, conditional, before)
        before = await clinical_versions(world.store)
