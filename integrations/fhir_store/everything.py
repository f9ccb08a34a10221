"""`Patient/$everything`: a patient and every current resource of their compartment that
the caller sees, a page at a time (async I/O).

The compartment is the patient's index rows (`fhir_search.patient`, whose index leads with
it), as for every compartment search (sql.plan_conditions): each resource in it has such
rows, the Patient included. The store's own AuditEvents are records about access, not the
patient's record, and are never part of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, false, select, tuple_

from integrations.fhir_store.access import STORE_WRITTEN, Access
from integrations.fhir_store.params import STORED_TYPES
from integrations.fhir_store.records import Stored
from integrations.fhir_store.sql import R, S, current_versions, to_stored
from integrations.fhir_store.store import FhirStore


async def patient_everything(
    store: FhirStore,
    patient_id: str,
    types: frozenset[str] | None,
    since: datetime | None,
    count: int,
    offset: int,
    *,
    access: Access,
) -> tuple[list[Stored], bool]:
    """A page of Patient/PATIENT_ID's compartment (of TYPES, changed since SINCE): the
    Patient first, then by type and time; and whether more follow. 404 unless ACCESS sees
    the Patient."""
    await store.read("Patient", patient_id, access=access)  # 404 / 410 / not theirs
    reference = f"Patient/{patient_id}"
    wanted = sorted(
        t
        for t in (types if types is not None else STORED_TYPES)
        if t not in STORE_WRITTEN and access.sees_type(t)
    )
    if not wanted:
        return [], False
    in_compartment = select(S.res_type, S.res_id).where(
        S.patient == reference, S.res_type.in_(wanted)
    )
    conditions = [
        tuple_(R.res_type, R.res_id).in_(in_compartment),
        R.deleted == false(),
    ]
    if since is not None:
        conditions.append(R.last_updated >= since)
    patient_first = case((R.res_type == "Patient", 0), else_=1)
    stmt = (
        current_versions(*conditions)
        .order_by(patient_first, R.res_type, R.last_updated, R.res_id)
        .limit(count + 1)
        .offset(offset)
    )
    async with store.sessionmaker() as session:
        rows = (await session.execute(stmt)).all()
    return [to_stored(r) for r in rows[:count]], len(rows) > count
