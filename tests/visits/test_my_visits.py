""" "My visits": the list with join links, cancel and reschedule (slot freed, meeting
cancelled, mails sent), and no path that shows or mails a link without an active Consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from integrations.visits.service import ConsentRequired, Patient, visit_of
from tests.scheduling.conftest import MONDAY
from tests.visits.conftest import ALICE, World, entries


async def _book(world: World, pick: int = 0) -> str:
    """Alice books through the chat; the link she was shown."""
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    await chat.send(chat.last[-1].suggestions[pick])
    for answer in ("yes", "use my insurance", "yes", "Alice Martin"):
        await chat.send(answer)
    booked = chat.last[0].text
    assert booked.startswith("Your video visit")
    return booked.rsplit(": ", 1)[1]


def _alice() -> Patient:
    return Patient(str(ALICE.fhir_reference), ALICE.account_id, "en", "Europe/Paris")


async def _withdraw_consent(world: World) -> None:
    client = world.access.for_patient(str(ALICE.fhir_reference), person=ALICE.account_id)
    (consent,) = entries(await world.get("Consent", status="active"))
    body = {k: v for k, v in consent.items() if k != "meta"}
    await client.request_json(
        "PUT", f"Consent/{consent['id']}", body={**body, "status": "inactive"}
    )


async def test_my_visits_lists_the_visit_with_its_link_and_cancel_frees_everything(
    world: World,
) -> None:
    link = await _book(world)
    chat = world.chat(ALICE)
    replies = await chat.send("my visits")
    assert replies == [
        "Your upcoming visits:\n1. Mon 7 Dec 09:00 · Dr Sarah Chen\n"
        f"   Join: {link}\n"
        'To change one, say "cancel 1" or "reschedule 1".'
    ]
    assert chat.last[0].suggestions == ("cancel 1", "reschedule 1")
    mails_before = len(world.mails())
    replies = await chat.send("cancel 1")
    assert replies == [
        "Your visit on Mon 7 Dec 09:00 · Dr Sarah Chen is cancelled and the time is free again. "
        "A mail was sent to you and to Dr Sarah Chen."
    ]
    (appointment,) = entries(await world.get("Appointment"))
    assert appointment["status"] == "cancelled"
    free = await world.visits.free_slots(MONDAY, MONDAY + timedelta(hours=3), 1)
    assert free[0].start == MONDAY.replace(hour=8)  # the slot is free again
    cancellations = world.mails()[mails_before:]
    assert {m["To"] for m in cancellations} == {
        "alice@patients.example.org",
        "dr.chen@clinic.example.org",
    }
    for mail in cancellations:
        assert "Cancelled" in mail["Subject"]
        assert "meet.jit.si" not in mail.get_body().get_content()  # type: ignore[union-attr]
        (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        calendar = Calendar.from_ical(ics.get_payload(decode=True))
        assert str(calendar["method"]) == "CANCEL"
    assert await world.chat(ALICE).send("my visits") == ["You have no upcoming visits."]


async def test_reschedule_moves_the_visit_frees_the_old_slot_and_shows_a_new_link(
    world: World,
) -> None:
    first_link = await _book(world)
    chat = world.chat(ALICE)
    await chat.send("my visits")
    await chat.send("reschedule 1")
    labels = [s for s in chat.last[-1].suggestions if s != "later"]
    assert labels[0] == "Mon 7 Dec 09:30 · Dr Sarah Chen"  # 09:00 is Alice's own, busy
    replies = await chat.send(labels[0])
    assert replies[1].startswith(
        "Your visit is moved to Mon 7 Dec 09:30 · Dr Sarah Chen with Dr Sarah Chen; "
        "the old time is free again.\nJoin here when it is time: https://meet.jit.si/carebot-"
    )
    new_link = replies[1].rsplit(": ", 1)[1]
    assert new_link != first_link
    statuses = sorted(a["status"] for a in entries(await world.get("Appointment")))  # type: ignore[type-var]
    assert statuses == ["booked", "cancelled"]
    free = await world.visits.free_slots(MONDAY, MONDAY + timedelta(hours=3), 1)
    assert free[0].start == MONDAY.replace(hour=8)


async def test_no_path_shows_or_mails_a_link_without_an_active_consent(world: World) -> None:
    await _book(world)
    await _withdraw_consent(world)
    patient = _alice()
    # the gate itself
    (visit,) = await world.visits.upcoming(patient)
    assert await world.visits.link(visit, patient) is None
    assert await world.visits.link(visit, patient, provider=True) is None
    # my visits: listed, without a link
    chat = world.chat(ALICE)
    replies = await chat.send("my visits")
    assert "meet.jit.si" not in replies[0]
    assert "the join link appears once you have signed the consent" in replies[0]
    # reschedule: the consent is asked for again before anything is booked or shown
    await chat.send("reschedule 1")
    replies = await chat.send(chat.last[-1].suggestions[0])
    assert "meet.jit.si" not in " ".join(replies)
    assert chat.last[-1].text.startswith("Consent to a virtual visit")
    assert len(entries(await world.get("Appointment", status="booked"))) == 1
    # booking directly through the service refuses without consent
    mails_before = len(world.mails())
    hold = await world.visits.scheduler.hold(
        (await world.visits.free_slots(MONDAY, MONDAY + timedelta(days=1), 1))[0]
    )
    with pytest.raises(ConsentRequired):
        await world.visits.book(hold, patient)
    assert len(world.mails()) == mails_before  # nothing was mailed for it
    # mail: a confirmation made now (e.g. resent) carries no link, in its text or its .ics
    appointment = entries(await world.get("Appointment", status="booked"))[0]
    confirmations = [m for m in world.mails() if m["Subject"].startswith("Your virtual visit")]
    assert len(confirmations) == 2 and "meet.jit.si" in str(confirmations[0])  # sent with one
    await world.visits._notify("confirmed", visit_of(appointment), patient)
    resent = [m for m in world.mails() if m["Subject"].startswith("Your virtual visit")]
    assert {m["To"] for m in resent} == {"alice@patients.example.org",
                                         "dr.chen@clinic.example.org"}  # fmt: skip
    for mail in resent:
        assert "meet.jit.si" not in mail.get_body().get_content()  # type: ignore[union-attr]
        for part in mail.iter_attachments():
            assert b"meet.jit.si" not in part.get_payload(decode=True)
