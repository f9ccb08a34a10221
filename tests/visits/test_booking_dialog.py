"""The booking and intake dialogs on the real store: a consultation_24 triage books a slot
inside 24 hours, with intake, signed consent, link and mails; bad input re-prompts; a taken
slot offers the next ones; a restart resumes; refusal books nothing."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from icalendar import Calendar

from dialogs.slot_choice import slot_label
from integrations.visits.consent import consent_text
from tests.scheduling.conftest import MONDAY
from tests.visits.conftest import ALICE, BRUNO, PARIS, World, entries

STORY = "It burns when I pee and I need to go all the time"


def _offered(world: World, chat_last: object) -> tuple[str, ...]:
    *_, offer = chat_last  # type: ignore[misc]
    return tuple(s for s in offer.suggestions if s not in ("later", "plus tard"))


async def test_a_consultation_24_books_inside_24_hours_with_intake_consent_link_and_mail(
    world: World,
) -> None:
    chat = world.chat(ALICE)
    await chat.send(STORY)
    replies = await chat.send("34")
    assert "You should be seen within 24 hours" in replies[-1]
    labels = _offered(world, chat.last)
    assert labels[0] == "Mon 7 Dec 09:00 · Dr Sarah Chen"  # 08:00 UTC told in Paris time
    assert len(labels) == 6
    in_window = await world.visits.free_slots(MONDAY, MONDAY + timedelta(hours=24), 100)
    assert len(in_window) == 16  # Monday's slots only: nothing beyond 24 hours is offered
    assert labels == tuple(slot_label(s, PARIS, "en") for s in in_window[:6])
    replies = await chat.send(labels[1])
    assert replies[0] == "I'm holding Mon 7 Dec 09:30 · Dr Sarah Chen for you for 10 minutes."
    assert "Email: alice@patients.example.org" in replies[1]
    assert "Address: 12 rue des Lilas, 75011, Paris" in replies[1]
    replies = await chat.send("yes")
    assert replies == [
        "Insurance on file: Mutuelle Démo, member id ending "
        f"{replies[0].split('ending ')[1][:4]}. Use this insurance, or pay yourself?"
    ]
    assert await chat.send("use my insurance") == ["Payment method on file: card. Use it?"]
    replies = await chat.send("yes")
    assert replies == ["Before I book, please read and sign the consent:", consent_text("en")]
    # nothing is booked and no link exists before the signature
    assert not entries(await world.get("Appointment"))
    replies = await chat.send("Alice Martin")
    assert replies[0].startswith(
        "Your video visit with Dr Sarah Chen is booked for Mon 7 Dec 09:30 · Dr Sarah Chen.\n"
        "Join here when it is time: https://meet.jit.si/carebot-"
    )
    assert replies[1] == (
        "A confirmation with a calendar invitation was sent to alice@patients.example.org."
    )
    assert chat.active == []
    link = replies[0].rsplit(": ", 1)[1]

    (appointment,) = entries(await world.get("Appointment"))
    assert appointment["status"] == "booked"
    actors = {p["actor"]["reference"] for p in appointment["participant"]}  # type: ignore[index, union-attr]
    assert actors == {ALICE.fhir_reference, "Practitioner/demo-practitioner-chen"}
    assert appointment["start"] == "2026-12-07T08:30:00Z"
    (consent,) = entries(await world.get("Consent"))
    assert consent["status"] == "active"
    assert consent["patient"] == {"reference": ALICE.fhir_reference}
    (provenance,) = entries(await world.get("Provenance"))
    signature = provenance["signature"][0]  # type: ignore[index]
    digest = hashlib.sha256(consent_text("en").encode()).hexdigest()
    assert base64.b64decode(signature["data"]).decode() == digest
    assert signature["who"]["display"] == "Alice Martin"
    assert provenance["target"][0] == {"reference": f"Consent/{consent['id']}"}  # type: ignore[index]

    mails = {m["To"]: m for m in world.mails()}
    assert set(mails) == {"alice@patients.example.org", "dr.chen@clinic.example.org"}
    patient_mail = mails["alice@patients.example.org"]
    assert link in patient_mail.get_body().get_content()  # type: ignore[union-attr]
    assert "Monday 7 December 2026, 09:30 (Europe/Paris)" in patient_mail["Subject"]
    for mail in mails.values():
        (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
        assert event.decoded("dtstart") == MONDAY.replace(hour=8, minute=30)
    # the provider's mail carries the provider's (moderator) link of the same room
    provider_text = mails["dr.chen@clinic.example.org"].get_body().get_content()  # type: ignore[union-attr]
    assert link.split("/")[-1] in provider_text


async def test_bad_input_re_prompts_and_changes_nothing(world: World) -> None:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    labels = _offered(world, chat.last)
    assert await chat.send("purple elephants") == [
        'Please pick one of the times, or type a day and time such as "friday 2pm".'
    ]
    await chat.send(labels[0])
    assert await chat.send("maybe") == ["Please answer yes or change."]
    assert await chat.send("change") == ["Type your new email address or phone number."]
    assert (await chat.send("not a phone"))[0].startswith("That is not an email address")
    replies = await chat.send("alice.new@example.org")
    assert "Email: alice.new@example.org" in replies[0]
    await chat.send("yes")
    assert await chat.send("whatever") == ['Please answer "insurance" or "self-pay".']
    await chat.send("self-pay")
    await chat.send("change")
    assert await chat.send("bitcoin") == ["How will you pay: card, bank transfer or cash?"]
    await chat.send("cash")
    assert (await chat.send("Bob Smith"))[0].startswith("To sign, type your full name as on")
    assert not entries(await world.get("Consent"))
    assert not entries(await world.get("Appointment"))
    assert chat.active == ["menu", "booking"]


async def test_a_slot_taken_meanwhile_offers_the_next_ones(world: World) -> None:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    labels = _offered(world, chat.last)
    first = (await world.visits.free_slots(MONDAY, MONDAY + timedelta(days=1), 1))[0]
    await world.visits.scheduler.hold(first)  # someone else, between offer and choice
    replies = await chat.send(labels[0])
    assert (
        replies[0]
        == "Sorry, that time was just taken by someone else. Here are the next free times:"
    )
    assert labels[0] not in _offered(world, chat.last)
    assert _offered(world, chat.last)[0] == labels[1]


async def test_a_restart_in_the_middle_resumes_where_it_was(world: World) -> None:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    await chat.send(_offered(world, chat.last)[0])
    await chat.send("yes")
    restarted = world.chat(ALICE)  # a new process: new runner, same stored stack and store
    restarted.stack = chat.stack
    assert await restarted.send("use my insurance") == ["Payment method on file: card. Use it?"]
    await restarted.send("yes")
    replies = await restarted.send("alice martin")
    assert replies[0].startswith("Your video visit with Dr Sarah Chen is booked")


async def test_an_expired_hold_offers_the_next_times_after_consent(world: World) -> None:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    await chat.send(_offered(world, chat.last)[0])
    for answer in ("yes", "use my insurance", "yes"):
        await chat.send(answer)
    world.clock.now += timedelta(minutes=11)
    other = world.chat(BRUNO)
    await other.send("prendre rendez-vous")
    await other.send(_offered(world, other.last)[0])  # Bruno takes the freed time
    replies = await chat.send("Alice Martin")
    assert (
        replies[0]
        == "Sorry, that time was just taken by someone else. Here are the next free times:"
    )
    replies = await chat.send(_offered(world, chat.last)[0])
    assert (
        replies[-1]
        == "A confirmation with a calendar invitation was sent to alice@patients.example.org."
    )
    assert len(entries(await world.get("Appointment"))) == 1  # Alice's; Bruno has not signed


async def test_refusing_consent_books_nothing_frees_the_time_and_tells_the_provider(
    world: World,
) -> None:
    chat = world.chat(BRUNO)
    await chat.send("prendre rendez-vous")
    labels = _offered(world, chat.last)
    assert labels[0] == "lun. 7 déc. 09:00 · Dr Sarah Chen"
    await chat.send(labels[0])
    for answer in ("oui", "utiliser mon assurance", "oui"):
        await chat.send(answer)
    assert chat.last[-1].text == consent_text("fr")
    replies = await chat.send("non")
    assert replies[0].startswith("Très bien, je n'ai pas réservé")
    (consent,) = entries(await world.get("Consent"))
    assert consent["status"] == "rejected"
    assert not entries(await world.get("Appointment"))
    (mail,) = world.mails()
    assert mail["To"] == "dr.chen@clinic.example.org" and "refused" in mail["Subject"]
    assert "meet.jit.si" not in mail.get_body().get_content()  # type: ignore[union-attr]
    free = await world.visits.free_slots(MONDAY, MONDAY + timedelta(hours=4), 1)
    assert free[0].start == MONDAY.replace(hour=8)


async def test_typed_date_phrases_in_english_and_french(world: World) -> None:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    await chat.send("tomorrow afternoon")
    labels = _offered(world, chat.last)
    assert labels and all(label.startswith("Tue 8 Dec 1") for label in labels)
    assert {label[10:15] for label in labels} <= {
        f"{h}:{m}" for h in range(12, 18) for m in ("00", "30")
    }
    french = world.chat(BRUNO)
    await french.send("prendre rendez-vous")
    await french.send("demain matin")
    labels = _offered(world, french.last)
    assert labels[0] == "mar. 8 déc. 08:00 · Dr Karim Haddad"
    assert all(label.startswith("mar. 8 déc. ") and label[12:14] < "12" for label in labels)
    replies = await french.send("vendredi 14h")
    assert replies[0] == "Je vous réserve ven. 11 déc. 14:00 · Dr Sarah Chen pendant 10 minutes."


async def test_urgent_with_no_slot_in_24_hours_gives_the_urgent_route(world: World) -> None:
    world.clock.now = MONDAY + timedelta(days=5, hours=8)  # Saturday 14:00 UTC: none until Mon
    chat = world.chat(ALICE)
    await chat.send(STORY)
    replies = await chat.send("34")
    assert replies[-1].startswith("No clinician is free for a video visit within the next 24 hours")
    assert "911" in replies[-1]
    assert chat.active == []


async def test_routine_with_none_in_the_window_offers_the_earliest(world: World) -> None:
    world.clock.now = MONDAY + timedelta(days=5, hours=8)
    world.routine_hours = 12
    chat = world.chat(ALICE)
    replies = await chat.send("book a visit")
    assert replies[0].startswith("No clinician is free within the next 12 hours.")
    assert _offered(world, chat.last) == ("Mon 14 Dec 09:00 · Dr Sarah Chen",)
