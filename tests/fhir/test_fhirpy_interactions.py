"""The write interactions through a third-party client (fhirpy 2.3.1), as an app would use
them: conditional create, update, patch and delete by identifier, and instance patch."""

from __future__ import annotations

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, ResourceNotFound

from tests.fhir.conftest import RunningStore

MRN = "urn:test:mrn"


def _client(store: RunningStore) -> AsyncFHIRClient:
    return AsyncFHIRClient(store.base_url, authorization=f"Bearer {store.admin_token}")


async def test_conditional_writes_by_identifier(running_store: RunningStore) -> None:
    client = _client(running_store)
    patients = client.resources("Patient")
    identifier = [{"system": MRN, "value": "fp-1"}]
    first = client.resource("Patient", identifier=identifier, gender="female")
    await first.create(identifier=f"{MRN}|fp-1")
    again = client.resource("Patient", identifier=identifier, gender="female")
    await again.create(identifier=f"{MRN}|fp-1")
    assert again.id == first.id  # the criteria in the URL made it conditional
    # conditional update by identifier updates that resource (it used to create another)
    changed = client.resource("Patient", identifier=identifier, gender="male")
    updated, created = await patients.search(identifier=f"{MRN}|fp-1").update(changed)
    assert (updated.id, created) == (first.id, False)
    assert updated["meta"]["versionId"] == "2"
    assert len(await patients.search(identifier=f"{MRN}|fp-1").fetch_all()) == 1
    fresh = client.resource("Patient", identifier=[{"system": MRN, "value": "fp-2"}])
    made, created = await patients.search(identifier=f"{MRN}|fp-2").update(fresh)
    assert created and made.id != first.id
    # conditional patch: a merge patch of the one match; none is 404
    # (fhirpy 2.3.1 warns that the first argument is deprecated even when none is given)
    with pytest.warns(DeprecationWarning):
        patched = await patients.search(identifier=f"{MRN}|fp-1").patch(active=True)
    assert patched.id == first.id and patched["active"] is True
    with pytest.raises(ResourceNotFound), pytest.warns(DeprecationWarning):
        await patients.search(identifier=f"{MRN}|fp-9").patch(active=True)
    # instance patch of fields
    instance = await patients.search(_id=first.id).get()
    await instance.patch(gender="other")
    assert (await patients.search(_id=first.id).get())["gender"] == "other"
    # several matches: 412 for update and delete, and nothing is deleted
    await client.resource("Patient", identifier=[{"system": MRN, "value": "fp-2"}]).create()
    with pytest.raises(MultipleResourcesFound):
        await patients.search(identifier=f"{MRN}|fp-2").update(fresh)
    with pytest.raises(MultipleResourcesFound):
        await patients.search(identifier=f"{MRN}|fp-2").delete()
    assert len(await patients.search(identifier=f"{MRN}|fp-2").fetch_all()) == 2
    _, status = await patients.search(identifier=f"{MRN}|fp-1").delete()
    assert status == 204
    assert len(await patients.search(identifier=f"{MRN}|fp-1").fetch_all()) == 0
