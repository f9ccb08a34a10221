"""The FHIR scheduler on the embedded store (SQLite and PostgreSQL): slots from the demo's
weekly hours, holds that expire, one booking per slot under any concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from integrations.fhir.access import FhirAccess
from integrations.scheduling.fhir_scheduler import FhirScheduler
from integrations.scheduling.models import SlotTaken
from tests.scheduling.conftest import ALICE, BRUNO, MONDAY, Clock


def _scheduler(access: FhirAccess, clock: Clock) -> FhirScheduler:
    return FhirScheduler(access, slot_minutes=30, hold_minutes=10, clock=clock)


async def test_free_slots_come_from_the_demo_hours_within_the_window(access: FhirAccess) -> None:
    clock = Clock(MONDAY)
    scheduler = _scheduler(access, clock)
    slots = await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24), limit=100)
    # Monday: Dr Chen only (Mon-Fri 09:00-17:00 Paris = 08:00-16:00 UTC): 16 half hours
    assert len(slots) == 16
    assert {s.provider_name for s in slots} == {"Dr Sarah Chen"}
    assert slots[0].start == MONDAY.replace(hour=8) and slots[-1].start.hour == 15
    assert all(MONDAY <= s.start < MONDAY + timedelta(hours=24) for s in slots)
    tuesday = await scheduler.free_slots(
        MONDAY + timedelta(days=1), MONDAY + timedelta(days=2), limit=100
    )
    # Tuesday: Dr Haddad too (08:00-14:00 Paris = 07:00-13:00 UTC): 16 + 12
    assert len(tuesday) == 28
    assert {s.provider_name for s in tuesday} == {"Dr Sarah Chen", "Dr Karim Haddad"}


async def test_a_hold_hides_the_slot_until_it_expires_then_it_is_free(access: FhirAccess) -> None:
    clock = Clock(MONDAY)
    scheduler = _scheduler(access, clock)
    window = (MONDAY, MONDAY + timedelta(hours=24))
    first = (await scheduler.free_slots(*window))[0]
    hold = await scheduler.hold(first)
    assert first not in await scheduler.free_slots(*window)
    with pytest.raises(SlotTaken):
        await scheduler.hold(first)
    clock.now += timedelta(minutes=11)  # the hold expired
    assert first in await scheduler.free_slots(*window)
    with pytest.raises(SlotTaken):
        await scheduler.book(hold, ALICE, "alice")  # an expired hold books nothing
    again = await scheduler.hold(first)  # someone else may take it now
    booking = await scheduler.book(again, BRUNO, "bruno")
    assert booking.slot == first
    with pytest.raises(SlotTaken):
        await scheduler.book(hold, ALICE, "alice")


async def test_booking_writes_the_patients_appointment_and_a_retry_returns_it(
    access: FhirAccess,
) -> None:
    clock = Clock(MONDAY)
    scheduler = _scheduler(access, clock)
    slot = (await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24)))[2]
    hold = await scheduler.hold(slot)
    booking = await scheduler.book(hold, ALICE, "alice")
    assert await scheduler.book(hold, ALICE, "alice") == booking  # idempotent
    alice = access.for_patient(ALICE, person="alice")
    _, appointment = await alice.request_json("GET", f"Appointment/{booking.appointment_id}")
    assert appointment is not None
    assert appointment["status"] == "booked"
    actors = {p["actor"]["reference"] for p in appointment["participant"]}
    assert actors == {ALICE, slot.practitioner}
    assert appointment["slot"] == [{"reference": f"Slot/{hold.slot_id}"}]
    # the write went through Alice's client: the store audited it for her account
    system = access.system()
    _, events = await system.request_json(
        "GET", "AuditEvent", params=[("patient", ALICE), ("_count", "200")]
    )
    assert events is not None and events.get("entry")
    # the slot is busy; cancelling frees it
    assert slot not in await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24))
    cancelled = await scheduler.cancel(booking.appointment_id, ALICE, "alice")
    assert cancelled.status == "cancelled" and cancelled.slot.start == slot.start
    assert slot in await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24))
    _, after = await alice.request_json("GET", f"Appointment/{booking.appointment_id}")
    assert after is not None and after["status"] == "cancelled"


async def test_another_patient_cannot_cancel_alices_visit(access: FhirAccess) -> None:
    scheduler = _scheduler(access, Clock(MONDAY))
    slot = (await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24)))[0]
    booking = await scheduler.book(await scheduler.hold(slot), ALICE, "alice")
    with pytest.raises(Exception) as raised:
        await scheduler.cancel(booking.appointment_id, BRUNO, "bruno")
    assert getattr(raised.value, "status", None) in (403, 404)
    assert slot not in await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24))


async def test_cancelling_an_appointment_that_names_another_patients_slot_frees_nothing(
    access: FhirAccess,
) -> None:
    # Bruno may write Appointments in his own compartment: one that names the Slot Alice
    # booked, then cancelled, must not give her time away
    scheduler = _scheduler(access, Clock(MONDAY))
    window = (MONDAY, MONDAY + timedelta(hours=24))
    slot = (await scheduler.free_slots(*window))[0]
    alices = await scheduler.hold(slot)
    await scheduler.book(alices, ALICE, "alice")
    bruno = access.for_patient(BRUNO, person="bruno")
    _, forged = await bruno.request_json(
        "POST", "Appointment",
        body={
            "resourceType": "Appointment",
            "status": "booked",
            "start": slot.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": slot.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "slot": [{"reference": f"Slot/{alices.slot_id}"}],
            "participant": [
                {"actor": {"reference": BRUNO}, "status": "accepted"},
                {"actor": {"reference": slot.practitioner}, "status": "accepted"},
            ],
        },
        headers={"Prefer": "return=representation"},
    )  # fmt: skip
    assert forged is not None
    await scheduler.cancel(str(forged["id"]), BRUNO, "bruno")
    assert slot not in await scheduler.free_slots(*window)
    with pytest.raises(SlotTaken):
        await scheduler.hold(slot)


async def test_fifty_patients_booking_one_slot_at_once_make_exactly_one_appointment(
    access: FhirAccess,
) -> None:
    clock = Clock(MONDAY)
    scheduler = _scheduler(access, clock)
    slot = (await scheduler.free_slots(MONDAY, MONDAY + timedelta(hours=24)))[0]
    patients = [ALICE, BRUNO] * 25

    async def attempt(patient: str) -> str | None:
        try:
            hold = await scheduler.hold(slot)
            return (await scheduler.book(hold, patient, patient)).appointment_id
        except SlotTaken:
            return None

    results = await asyncio.gather(*(attempt(p) for p in patients))
    booked = [r for r in results if r is not None]
    assert len(booked) == 1
    _, bundle = await access.system().request_json("GET", "Appointment", params=[("_count", "100")])
    assert bundle is not None
    appointments = [e["resource"] for e in bundle.get("entry") or []]
    assert len([a for a in appointments if a["status"] == "booked"]) == 1
    _, slots = await access.system().request_json("GET", "Slot", params=[("_count", "100")])
    assert slots is not None and len(slots["entry"]) == 1  # one Slot resource for the key
    assert slots["entry"][0]["resource"]["status"] == "busy"
