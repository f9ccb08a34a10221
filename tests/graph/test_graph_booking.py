"""Booking on Microsoft 365 (CAREBOT_SCHEDULER=bookings CAREBOT_MEETINGS=teams
CAREBOT_MAIL=graph) against the local Graph emulator, through msgraph-sdk: the chat flow,
50 patients racing for one slot, and faults (429 bursts, 500s on concurrent creation, lost
replies, timeouts, revoked tokens): a visit is booked exactly once or the patient is told."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta

from icalendar import Calendar

from dialogs.booking_texts import say
from integrations.scheduling.bookings_scheduler import BOOKINGS_APPOINTMENT_SYSTEM
from integrations.scheduling.models import SlotTaken
from integrations.visits.consent import Signature, consent_text
from integrations.visits.service import Patient
from tests.fakes.graph import BUSINESS
from tests.graph.conftest import GraphWorld
from tests.scheduling.conftest import MONDAY
from tests.visits.conftest import ALICE, World, entries

STORY = "It burns when I pee and I need to go all the time"
DEMO = ["alice", "bruno", "chloe", "david", "emma"]


async def _to_consent(world: World) -> tuple[object, str]:
    """Alice's chat up to the consent, holding the first slot offered; the chat and the slot."""
    chat = world.chat(ALICE)
    await chat.send(STORY)
    replies = await chat.send("34")
    assert "You should be seen within 24 hours" in replies[-1]
    *_, offer = chat.last
    label = offer.suggestions[0]
    await chat.send(label)
    await chat.send("yes")
    await chat.send("use my insurance")
    assert (await chat.send("yes"))[-1] == consent_text("en")
    return chat, label


async def test_the_booking_flow_runs_on_bookings_teams_and_graph_mail(on_graph: GraphWorld) -> None:
    graph, world = on_graph.graph, on_graph.world
    # the SDK's first request was paid when the backends were opened, not in a turn
    assert graph.requests[0] == ("GET", f"/v1.0/solutions/bookingBusinesses/{BUSINESS}", 200)
    chat, label = await _to_consent(world)
    # 07:00 UTC is 08:00 in Paris, when Dana Swope's hours begin
    assert label == "Mon 7 Dec 08:00 · Dr Dana Swope"
    assert graph.live_appointments() == [] and graph.live_meetings() == []
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    (meeting,) = graph.live_meetings()
    assert replies[0] == (
        "Your video visit with Dr Dana Swope is booked for Mon 7 Dec 08:00 · Dr Dana Swope.\n"
        f"Join here when it is time: {meeting['joinWebUrl']}"
    )
    (booked,) = graph.live_appointments()
    assert booked["startDateTime"]["dateTime"].startswith("2026-12-07T07:00:00")
    assert booked["staffMemberIds"] == ["8ee1c803-a1fa-406d-8259-7ab53233f148"]
    assert "customers" not in booked  # Bookings gets no patient details
    # the Bookings appointment is mirrored in FHIR: one record for the queue and alerts
    (appointment,) = entries(await world.get("Appointment"))
    assert appointment["status"] == "booked"
    assert {"system": BOOKINGS_APPOINTMENT_SYSTEM, "value": booked["id"]} in appointment[
        "identifier"
    ]  # type: ignore[operator]
    doctor = next(
        p["actor"]
        for p in appointment["participant"]  # type: ignore[union-attr]
        if p["actor"]["reference"].startswith("Practitioner/")
    )  # type: ignore[index]
    practitioner = await world.get(doctor["reference"])
    assert practitioner["telecom"] == [{"system": "email", "value": "danas@contoso.com"}]
    assert meeting["externalId"] == f"carebot-{appointment['id']}"
    # the mails went by Graph sendMail from the clinic's mailbox, each with its .ics
    assert {m["toRecipients"][0]["emailAddress"]["address"] for m in graph.mails} == {
        "alice@patients.example.org", "danas@contoso.com"}  # fmt: skip
    for mail in graph.mails:
        assert mail["from"] == "clinic@example.org"
        assert meeting["joinWebUrl"] in mail["body"]["content"]
        (ics,) = mail["attachments"]
        assert ics["contentType"] == "text/calendar"
        event = Calendar.from_ical(base64.b64decode(ics["contentBytes"])).walk("VEVENT")[0]
        assert event.decoded("dtstart") == MONDAY.replace(hour=7)
    # cancelling cancels the Bookings appointment and deletes the Teams meeting
    (visit,) = await world.visits.upcoming(_alice())
    await world.visits.cancel(visit.appointment_id, _alice())
    assert graph.live_appointments() == [] and graph.live_meetings() == []
    assert len(graph.mails) == 4  # and both sides are told


def _alice() -> Patient:
    return Patient("Patient/demo-patient-alice", "acct-alice", "en", "Europe/Paris")


async def _consent(world: World, who: str) -> Patient:
    patient = Patient(f"Patient/demo-patient-{who}", f"acct-{who}", "en", "Europe/Paris")
    await world.visits.consents.sign(Signature(
        patient.reference, patient.person, who.title(), consent_text("en"), "en", "webchat",
        world.clock(),
    ))  # fmt: skip
    return patient


async def test_fifty_patients_racing_for_one_bookings_slot_make_one_appointment(
    on_graph: GraphWorld,
) -> None:
    graph, world = on_graph.graph, on_graph.world
    patients = [await _consent(world, who) for who in DEMO]
    window = (MONDAY, MONDAY + timedelta(hours=24))
    first = (await world.visits.free_slots(*window, 20))[0]
    offered_after: list[list[object]] = []

    async def attempt(patient: Patient) -> str | None:
        try:
            hold = await world.visits.scheduler.hold(first)
            visit, _ = await world.visits.book(hold, patient)
            return visit.appointment_id
        except SlotTaken:
            offered_after.append(await world.visits.free_slots(*window, 20))
            return None

    results = await asyncio.gather(*(attempt(patients[i % 5]) for i in range(50)))
    assert len([r for r in results if r is not None]) == 1
    assert len(graph.live_appointments()) == 1
    assert len(graph.live_meetings()) == 1  # no orphan meeting
    assert len(graph.mails) == 2  # one visit's two confirmations, no more
    assert len(offered_after) == 49
    assert all(slots and first not in slots for slots in offered_after)  # others offered
    booked = [a for a in entries(await world.get("Appointment", _count="100"))
              if a["status"] == "booked"]  # fmt: skip
    assert len(booked) == 1
    assert graph.most_bookings_in_flight <= 4  # Bookings' limit per app and mailbox


async def test_creations_answered_500_while_another_is_made_are_retried_once_made(
    on_graph: GraphWorld,
) -> None:
    graph, world = on_graph.graph, on_graph.world
    patients = [await _consent(world, who) for who in DEMO]
    slots = await world.visits.free_slots(MONDAY, MONDAY + timedelta(hours=24), 10)
    graph.create_delay_s = 0.05

    async def book(i: int) -> str:
        hold = await world.visits.scheduler.hold(slots[i])
        visit, _ = await world.visits.book(hold, patients[i % 5])
        return visit.appointment_id

    # another process creates at the same time: Bookings refuses ours with 500s a while
    other = asyncio.create_task(graph.another_client_creating(refused=2))
    booked = await asyncio.gather(*(book(i) for i in range(10)))
    await other
    assert len(set(booked)) == 10
    assert graph.refused_creations() == 2  # refused meanwhile; each made once all the same
    assert len(graph.live_appointments()) == 10
    starts = sorted(a["startDateTime"]["dateTime"] for a in graph.live_appointments())
    assert len(set(starts)) == 10 and len(graph.live_meetings()) == 10


async def _book_alice(world: World) -> list[str]:
    chat, _ = await _to_consent(world)
    return await chat.send("Alice Martin")  # type: ignore[attr-defined, no-any-return]


async def test_a_429_burst_is_waited_out_as_retry_after_says(on_graph: GraphWorld) -> None:
    graph, world = on_graph.graph, on_graph.world
    chat, _ = await _to_consent(world)
    graph.throttle(3, retry_after=1)
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    assert replies[0].startswith("Your video visit with Dr Dana Swope is booked")
    assert [r for r in graph.requests if r[2] == 429] and len(graph.live_appointments()) == 1


async def test_a_504_after_the_appointment_was_made_does_not_make_a_second(
    on_graph: GraphWorld,
) -> None:
    graph, world = on_graph.graph, on_graph.world
    chat, _ = await _to_consent(world)
    graph.lose_create_replies(1, status=504)  # the SDK's default retry made two here
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    assert replies[0].startswith("Your video visit with Dr Dana Swope is booked")
    assert len(graph.live_appointments()) == 1 and len(graph.live_meetings()) == 1
    posts = [r for r in graph.requests if r[0] == "POST" and r[1].endswith("/appointments")]
    assert [p[2] for p in posts] == [504]  # found by the look-up, never posted again


async def test_a_timeout_on_creation_is_looked_up_not_repeated(on_graph: GraphWorld) -> None:
    graph, world = on_graph.graph, on_graph.world
    chat, _ = await _to_consent(world)
    graph.lose_create_replies(1, status=0)  # made, but answered after the client gave up
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    assert replies[0].startswith("Your video visit with Dr Dana Swope is booked")
    assert len(graph.live_appointments()) == 1 and len(graph.live_meetings()) == 1


async def test_a_revoked_token_is_renewed_and_an_expired_one_never_sent(
    on_graph: GraphWorld,
) -> None:
    graph, world = on_graph.graph, on_graph.world
    chat, _ = await _to_consent(world)
    issued = graph.tokens_issued
    graph.revoke_tokens()
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    assert replies[0].startswith("Your video visit with Dr Dana Swope is booked")
    assert graph.tokens_issued > issued and len(graph.live_appointments()) == 1


async def test_graph_down_tells_the_patient_plainly_and_books_nothing(
    on_graph: GraphWorld,
) -> None:
    graph, world = on_graph.graph, on_graph.world
    chat, _ = await _to_consent(world)
    graph.throttle(1000, retry_after=0)
    replies = await chat.send("Alice Martin")  # type: ignore[attr-defined]
    assert replies == [say("unavailable", "en")]
    graph.throttle(0)
    assert graph.live_appointments() == [] and graph.live_meetings() == [] and not graph.mails
    (appointment,) = entries(await world.get("Appointment"))
    assert appointment["status"] == "cancelled"  # the mirror, undone
    assert await world.visits.upcoming(_alice()) == []


async def test_no_link_without_an_active_consent_on_bookings(on_graph: GraphWorld) -> None:
    graph, world = on_graph.graph, on_graph.world
    await _book_alice(world)
    (visit,) = await world.visits.upcoming(_alice())
    assert await world.visits.link(visit, _alice()) == graph.live_meetings()[0]["joinWebUrl"]
    (consent,) = entries(await world.get("Consent"))
    system = world.access.system()
    body = {k: v for k, v in consent.items() if k != "meta"}
    await system.request_json(
        "PUT", f"Consent/{consent['id']}", body={**body, "status": "inactive"}
    )
    assert await world.visits.link(visit, _alice()) is None
    before = len(graph.mails)
    chat = world.chat(ALICE)
    replies = await chat.send("my visits")
    assert graph.live_meetings()[0]["joinWebUrl"] not in "\n".join(replies)
    assert await world.visits.remind(visit.appointment_id, ALICE.fhir_reference or "", "r1") is None
    assert len(graph.mails) == before  # no reminder mail without consent
