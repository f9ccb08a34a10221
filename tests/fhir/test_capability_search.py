"""The CapabilityStatement against behaviour: every search parameter, include and
revinclude it lists is answered (on SQLite and PostgreSQL), and R4 parameters it leaves out
are refused with a 400 (strict) or ignored (lenient)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from integrations.fhir_store.params import SEARCH_PARAMS, SKIPPED_PARAMS
from tests.fhir.conftest import RunningStore, running_store  # noqa: F401

_VALUES = {
    "token": "http://loinc.org|8867-4",
    "string": "ab",
    "date": "ge2024-01-01",
    "number": "gt0.5",
    "quantity": "lt100||mm[Hg]",
    "uri": "http://example.org/x",
    "reference": "Patient/nobody",
}
_SECOND = {"token": "a|b", "quantity": "gt1", "date": "le2030", "string": "x", "reference": "X/1"}


def _value(rtype: str, entry: dict[str, Any]) -> str:
    if entry["type"] != "composite":
        return _VALUES[entry["type"]]
    first, second = SEARCH_PARAMS[rtype][entry["name"]].components
    head = "Patient/nobody" if first.kind.value == "reference" else "a|b"
    return f"{head}${_SECOND[second.kind.value]}"


async def _status(store: RunningStore, path: str, lenient: bool = False) -> tuple[str, int, str]:
    headers = {"Authorization": f"Bearer {store.admin_token}"}
    if lenient:
        headers["Prefer"] = "handling=lenient"
    response = await store.http.get(f"{store.base_url}/{path}", headers=headers)
    return path, response.status_code, response.text[:200]


async def _all(
    store: RunningStore, paths: list[str], lenient: bool = False
) -> list[tuple[str, int, str]]:
    out: list[tuple[str, int, str]] = []
    for start in range(0, len(paths), 25):
        out += await asyncio.gather(
            *[_status(store, p, lenient) for p in paths[start : start + 25]]
        )
    return out


async def test_every_listed_search_is_answered(running_store: RunningStore) -> None:  # noqa: F811
    metadata = (await running_store.http.get(f"{running_store.base_url}/metadata")).json()
    paths: list[str] = []
    listed = 0
    for resource in metadata["rest"][0]["resource"]:
        rtype = resource["type"]
        names = {p["name"] for p in resource["searchParam"]}
        # exactly the store's parameters, and none the store could not index
        assert names == set(SEARCH_PARAMS[rtype]) | {"_id", "_lastUpdated"}
        assert not names & set(SKIPPED_PARAMS.get(rtype, {}))
        for entry in resource["searchParam"]:
            listed += 1
            value = "x" if entry["name"] == "_id" else _value(rtype, entry)
            if entry["name"] == "_lastUpdated":
                value = _VALUES["date"]
            paths.append(f"{rtype}?{entry['name']}={httpx.QueryParams({'v': value})['v']}")
            paths.append(f"{rtype}?{entry['name']}:missing=false&_summary=count")
        paths += [f"{rtype}?_include={inc}" for inc in resource["searchInclude"]]
        paths += [f"{rtype}?_revinclude={inc}" for inc in resource["searchRevInclude"]]
    assert listed > 600  # every R4 parameter of 38 types
    answers = await _all(running_store, [p.replace("|", "%7C").replace("$", "%24") for p in paths])
    assert [a for a in answers if a[1] != 200] == []


async def test_parameters_not_listed_are_refused_unless_lenient(
    running_store: RunningStore,  # noqa: F811
) -> None:
    paths = [
        f"{rtype}?{name}=x"
        for rtype, skipped in sorted(SKIPPED_PARAMS.items())
        for name in sorted(skipped)
        if not name.startswith("_has")
    ] + ["Observation?colour=red", "Patient?family:sounds-like=x", "Observation?code:in=x"]
    assert all(status == 400 for _, status, _ in await _all(running_store, paths))
    lenient = await _all(running_store, paths[:-2], lenient=True)
    assert all(status == 200 for _, status, _ in lenient)
