"""Search parameters, modifiers of the result, paging, includes and $lastn."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import FhirClient, InvalidResource
from integrations.fhir.search import SearchQuery
from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import LOINC, patient, vital

HR, RR = "8867-4", "9279-1"


async def _seed(fhir: FhirClient) -> tuple[str, str]:
    a = await fhir.create(patient("search-a"))
    b = await fhir.create(patient("search-b"))
    pa, pb = f"Patient/{a.id}", f"Patient/{b.id}"
    for day in range(1, 6):
        await fhir.create(vital(pa, HR, 60 + day, f"2024-03-0{day}T08:00:00Z"))
        await fhir.create(vital(pa, RR, 12 + day, f"2024-03-0{day}T08:05:00+01:00"))
    await fhir.create(vital(pb, HR, 90, "2024-03-02T09:00:00Z"))
    return pa, pb


def _q(**params: str) -> SearchQuery[Observation]:
    return SearchQuery(Observation).where(**params)


async def test_token_reference_and_date_searches(fhir: FhirClient) -> None:
    pa, pb = await _seed(fhir)
    count = fhir.count
    assert await count(_q(patient=pa)) == 10
    assert await count(_q(subject=pb)) == 1
    assert await count(_q(patient=pa.split("/")[1])) == 10
    assert await count(_q(patient=pa, code=f"{LOINC}|{HR}")) == 5
    assert await count(_q(patient=pa, code=HR)) == 5
    assert await count(_q(code=f"http://other|{HR}")) == 0
    assert await count(_q(code=f"{LOINC}|{HR},{LOINC}|{RR}")) == 11
    assert await count(_q(patient=pa, category="vital-signs", status="final")) == 10
    assert await count(_q(status="preliminary")) == 0
    # partial dates are ranges: the whole of 2024-03-02
    assert await count(_q(patient=pa, date="2024-03-02")) == 2
    assert await count(_q(patient=pa, date="2024-03")) == 10
    assert (
        await count(
            SearchQuery(Observation).where(patient=pa, date=["ge2024-03-04", "lt2024-03-05"])
        )
        == 2
    )
    assert await count(_q(patient=pa, code=HR, date="gt2024-03-03")) == 2
    assert await count(_q(patient=pa, code=HR, date="le2024-03-02T08:00:00Z")) == 2
    # 08:05+01:00 is 07:05Z
    assert await count(_q(patient=pa, code=RR, date="lt2024-03-01T07:05:00Z")) == 0
    assert await count(_q(patient=pa, code=RR, date="eq2024-03-01T07:05:00Z")) == 1
    assert await count(SearchQuery(Patient).where(identifier="urn:test:mrn|search-a")) == 1
    assert await count(SearchQuery(Patient).where(gender="female")) == 2
    assert await count(SearchQuery(Patient).where(_id=pa.split("/")[1])) == 1
    assert await count(SearchQuery(Patient).where(_lastUpdated="ge2000-01-01")) == 2
    assert await count(SearchQuery(Patient).where(_lastUpdated="lt2000-01-01")) == 0


async def test_paging_sort_and_include(fhir: FhirClient) -> None:
    pa, _ = await _seed(fhir)
    query = _q(patient=pa, code=HR).sort("-date").count(2)
    values = [o.valueQuantity.value async for o in fhir.search(query)]  # type: ignore[union-attr]
    assert [float(v) for v in values if v is not None] == [65, 64, 63, 62, 61]
    page = await fhir.search_page(query)
    assert len(page.entry or []) == 2
    assert any(link.relation == "next" for link in page.link or [])
    ascending = await fhir.search_all(_q(patient=pa, code=HR).sort("date"))
    assert [o.effectiveDateTime for o in ascending] == sorted(
        o.effectiveDateTime for o in ascending
    )  # type: ignore[type-var]
    included = await fhir.search_page(_q(patient=pa, code=HR).include("Observation:patient"))
    modes = [e.search.mode for e in included.entry or [] if e.search]
    assert modes.count("include") == 1 and modes.count("match") == 5


async def test_unknown_parameter_is_400_unless_lenient(
    running_store: RunningStore, fhir: FhirClient
) -> None:
    with pytest.raises(InvalidResource):
        await fhir.count(SearchQuery(Observation).where(colour="blue"))
    headers = {"Authorization": f"Bearer {running_store.admin_token}", "Prefer": "handling=lenient"}
    response = await running_store.http.get(
        f"{running_store.base_url}/Observation?colour=blue", headers=headers
    )
    assert response.status_code == 200
    with pytest.raises(InvalidResource):
        await fhir.count(SearchQuery(Observation).where(date="2024-13-45"))


async def test_lastn_returns_newest_per_code(fhir: FhirClient) -> None:
    pa, pb = await _seed(fhir)
    latest = await fhir.latest_vitals(pa)
    by_code = {o.code.coding[0].code: o for o in latest}  # type: ignore[index]
    assert set(by_code) == {HR, RR}
    assert float(by_code[HR].valueQuantity.value) == 65  # type: ignore[union-attr,arg-type]
    assert float(by_code[RR].valueQuantity.value) == 17  # type: ignore[union-attr,arg-type]
    two = await fhir.latest_vitals(pa, [f"{LOINC}|{HR}"], max_per_code=2)
    assert sorted(float(o.valueQuantity.value) for o in two) == [64, 65]  # type: ignore[union-attr,arg-type]
    assert len(await fhir.latest_vitals(pb)) == 1


async def _newest(fhir: FhirClient, patient_ref: str, code: str) -> float:
    (obs,) = await fhir.latest_vitals(patient_ref, [f"{LOINC}|{code}"])
    return float(obs.valueQuantity.value)  # type: ignore[union-attr,arg-type]


async def test_lastn_follows_late_readings_updates_and_deletes(fhir: FhirClient) -> None:
    pa, _ = await _seed(fhir)
    # a reading that arrives late (older than the newest) does not displace it
    await fhir.create(vital(pa, HR, 99, "2024-02-01T08:00:00Z"))
    assert await _newest(fhir, pa, HR) == 65
    newest = (await fhir.latest_vitals(pa, [f"{LOINC}|{HR}"]))[0]
    # moving the newest back in time hands "latest" to the next one
    newest.effectiveDateTime = "2024-01-01T00:00:00Z"  # type: ignore[assignment]
    await fhir.update(newest)
    assert await _newest(fhir, pa, HR) == 64
    second = (await fhir.latest_vitals(pa, [f"{LOINC}|{HR}"]))[0]
    await fhir.delete(Observation, str(second.id))
    assert await _newest(fhir, pa, HR) == 63
    # a newer reading filed under another category is newest by code, but not as a vital sign
    lab = vital(pa, HR, 50, "2024-04-01T08:00:00Z")
    lab.category[0].coding[0].code = "laboratory"  # type: ignore[index]
    await fhir.create(lab)
    assert await _newest(fhir, pa, HR) == 50
    _, data = await fhir.request_json(
        "GET", "Observation/$lastn", params=[("patient", pa), ("category", "vital-signs")]
    )
    values = sorted(float(e["resource"]["valueQuantity"]["value"]) for e in data["entry"])
    assert values == [17, 63]


async def test_aliases_search_the_rows_they_stand_for(fhir: FhirClient) -> None:
    pa, pb = await _seed(fhir)
    count = fhir.count
    assert await count(_q(patient=pa)) == await count(_q(subject=pa)) == 10
    # `patient` only ever names Patients; `combo-code` finds codes and component codes
    assert await count(_q(patient=f"Group/{pa.split('/')[1]}")) == 0
    assert await count(_q(**{"combo-code": f"{LOINC}|{HR}"})) == 6
    bp = vital(pb, "85354-9", 0, "2024-03-03T09:00:00Z")
    bp.valueQuantity = None
    bp.component = [  # type: ignore[assignment]
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 120}}
    ]
    await fhir.create(bp)
    assert await count(_q(**{"combo-code": "8480-6"})) == 1
    assert await count(_q(**{"component-code": "8480-6"})) == 1
    assert await count(_q(code="8480-6")) == 0


async def test_references_to_the_own_patient_are_found_every_way(fhir: FhirClient) -> None:
    # such references are indexed without their value (the row's patient holds it)
    pa, pb = await _seed(fhir)
    count = fhir.count
    assert await count(_q(subject=f"{pa},{pb}")) == 11
    assert await count(_q(subject=pb.split("/")[1])) == 1
    by_self = vital(pa, HR, 70, "2024-03-09T08:00:00Z")
    by_self.performer = [{"reference": pa}]  # type: ignore[list-item]
    by_other = vital(pa, HR, 71, "2024-03-09T09:00:00Z")
    by_other.performer = [{"reference": pb}]  # type: ignore[list-item]
    of_group = vital("Group/ward-7", HR, 72, "2024-03-09T10:00:00Z")
    for observation in (by_self, by_other, of_group):
        await fhir.create(observation)
    assert await count(_q(performer=pa)) == 1
    assert await count(_q(performer=pb)) == 1
    assert await count(_q(performer=pa, subject=pa)) == 1
    assert await count(_q(performer=pb.split("/")[1])) == 1
    assert await count(_q(subject="Group/ward-7")) == 1
    assert await count(_q(subject="ward-7")) == 1
    assert await count(_q(patient="Patient/ward-7")) == 0
    included = await fhir.search_page(_q(performer=pb).include("Observation:performer"))
    found = [(e.search.mode, e.fullUrl) for e in included.entry or [] if e.search]
    assert [mode for mode, _ in found] == ["match", "include"]
    assert str(found[1][1]).endswith(pb)
    included = await fhir.search_page(_q(performer=pa).include("Observation:subject"))
    assert [str(e.fullUrl).endswith(pa) for e in included.entry or []] == [False, True]
