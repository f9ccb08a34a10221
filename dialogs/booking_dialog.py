"""Booking a video visit: a slot inside the triage window, intake, consent, then the booking.

    offer slots -> hold -> contact details -> insurance or self-pay -> payment kind
                -> consent (full text, typed name) -> book -> link + confirmation mail

Slots are only offered inside the outcome's `window_hours` (a routine window when booking
from the menu); when none fits, the patient is told and offered the earliest, or, for an
urgent level, the urgent route. Everything that must survive a restart is in the dialog's
state (the step, the offered slots, the hold); the hold itself is in the FHIR store.
A reschedule (from "my visits") runs the same slot choice, then moves the visit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dialogs.base import JSON, DialogContext, Done, Reply, Step, Wait
from dialogs.booking_texts import PAYMENT_NAMES, SUGGESTIONS, is_word, say
from dialogs.outcomes import Outcome, TriageOutcome
from dialogs.slot_choice import picked, slot_from_json, slot_label, slot_to_json, wanted_range
from dialogs.texts import normalise
from dialogs.triage import Level
from dialogs.triage.advice import EmergencyNumbers
from integrations.scheduling.models import Hold, OpenSlot, SchedulerUnavailable, SlotTaken
from integrations.visits.consent import Signature, consent_text
from integrations.visits.intake import IntakeInputError
from integrations.visits.service import ConsentRequired, Patient, VisitService

PAGE = 6
URGENT_LEVELS = (Level.CONSULTATION_24,)


@dataclass(frozen=True)
class Reschedule:
    """Start booking to move an existing visit (from "my visits")."""

    appointment_id: str


BookingArgs = TriageOutcome | Reschedule | None


def _hold_to_json(hold: Hold) -> dict[str, JSON]:
    return {"slot": slot_to_json(hold.slot), "slot_id": hold.slot_id, "token": hold.token,
            "expires": hold.expires.isoformat()}  # fmt: skip


def _hold_from_json(raw: JSON) -> Hold:
    if not isinstance(raw, dict):
        raise ValueError("a hold is a JSON object")
    return Hold(
        slot_from_json(raw.get("slot")), str(raw.get("slot_id")), str(raw.get("token")),
        datetime.fromisoformat(str(raw.get("expires"))),
    )  # fmt: skip


class BookingDialog:
    """Books a video visit inside the triage window, with intake and consent."""

    name = "booking"

    def __init__(
        self,
        visits: VisitService,
        *,
        emergency: EmergencyNumbers,
        zone: ZoneInfo,
        routine_hours: int = 14 * 24,
        hold_minutes: int = 10,
        channel: str = "chat",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._visits = visits
        self._emergency = emergency
        self._zone = zone
        self._routine_hours = routine_hours
        self._hold_minutes = hold_minutes
        self._channel = channel
        self._clock = clock

    # ----- helpers -----------------------------------------------------------------------
    def _patient(self, ctx: DialogContext) -> Patient:
        zone = ctx.state.get("zone")
        return Patient(
            str(ctx.person.fhir_reference), ctx.person.account_id, ctx.language,
            str(zone) if isinstance(zone, str) else str(self._zone),
        )  # fmt: skip

    def _zone_of(self, ctx: DialogContext) -> ZoneInfo:
        return ZoneInfo(self._patient(ctx).zone)

    def _window_end(self, ctx: DialogContext) -> datetime:
        return datetime.fromisoformat(str(ctx.state["window_end"]))

    def _offered(self, ctx: DialogContext) -> list[OpenSlot]:
        raw = ctx.state.get("offered")
        return [slot_from_json(s) for s in raw] if isinstance(raw, list) else []

    def _offer(self, ctx: DialogContext, slots: list[OpenSlot], intro: str) -> Step:
        zone = self._zone_of(ctx)
        ctx.state["offered"] = [slot_to_json(s) for s in slots]
        ctx.state["step"] = "slot"
        labels = tuple(slot_label(s, zone, ctx.language) for s in slots)
        # suggested actions: Web Chat shows them as buttons, Teams as suggested replies
        ctx.send(Reply(intro, suggestions=(*labels, *SUGGESTIONS["later"][ctx.language])))
        return Wait()

    async def _first_offer(self, ctx: DialogContext, outcome: TriageOutcome | None) -> Step:
        now = self._clock()
        hours = outcome.window_hours if outcome and outcome.window_hours else self._routine_hours
        end = now + timedelta(hours=hours)
        ctx.state["window_end"] = end.isoformat()
        zone = self._patient(ctx).zone
        slots = await self._visits.free_slots(now, end, PAGE)
        if slots:
            urgent = outcome is not None and outcome.level in URGENT_LEVELS
            key = "offer_urgent" if urgent else "offer"
            return self._offer(ctx, slots, say(key, ctx.language, hours=str(hours), zone=zone))
        if outcome is not None and outcome.level in URGENT_LEVELS:
            emergency = self._emergency.label(ctx.language)
            ctx.say(say("none_in_window_urgent", ctx.language, hours=str(hours),
                        emergency=emergency))  # fmt: skip
            return Done()
        earliest = await self._visits.free_slots(now, now + timedelta(days=60), 1)
        if not earliest:
            ctx.say(say("none_at_all", ctx.language))
            return Done()
        ctx.state["window_end"] = earliest[0].end.isoformat()
        text = say("none_in_window_earliest", ctx.language, hours=str(hours), zone=zone)
        return self._offer(ctx, earliest, text)

    async def _reoffer(self, ctx: DialogContext, intro_key: str) -> Step:
        now = self._clock()
        end = max(self._window_end(ctx), now + timedelta(hours=1))
        slots = await self._visits.free_slots(now, end, PAGE)
        if not slots:
            ctx.say(say("none_at_all", ctx.language))
            return Done()
        return self._offer(ctx, slots, say(intro_key, ctx.language))

    # ----- the steps ---------------------------------------------------------------------
    async def begin(self, ctx: DialogContext, args: BookingArgs) -> Step:
        """Look the patient up, then offer the slots of the window."""
        try:
            return await self._begin(ctx, args)
        except SchedulerUnavailable:
            return await self._unavailable(ctx)

    async def resume(self, ctx: DialogContext) -> Step:
        """Go on from the step in state."""
        try:
            return await self._resume(ctx)
        except SchedulerUnavailable:
            return await self._unavailable(ctx)

    async def _unavailable(self, ctx: DialogContext) -> Step:
        """The booking system did not answer: say so plainly, give the time back."""
        if "hold" in ctx.state:
            await self._visits.release(_hold_from_json(ctx.state.pop("hold")))
        ctx.say(say("unavailable", ctx.language))
        return Done()

    async def _begin(self, ctx: DialogContext, args: BookingArgs) -> Step:
        if ctx.person.fhir_reference is None or not ctx.person.fhir_reference.startswith(
            "Patient/"
        ):
            ctx.say(say("no_patient", ctx.language))
            return Done()
        contact = await self._visits.intake.contact(
            ctx.person.fhir_reference, ctx.person.account_id
        )
        ctx.state["zone"] = contact.zone or str(self._zone)
        outcome = args if isinstance(args, TriageOutcome) else None
        if outcome is not None:
            ctx.state["outcome"] = outcome.to_json()
        if isinstance(args, Reschedule):
            ctx.state["reschedule"] = args.appointment_id
        return await self._first_offer(ctx, outcome)

    async def _resume(self, ctx: DialogContext) -> Step:
        step = ctx.state.get("step")
        words = normalise(ctx.input.text)
        if step == "slot":
            return await self._on_slot(ctx, words)
        if step == "contact":
            return await self._on_contact(ctx, words)
        if step == "contact_edit":
            return await self._on_contact_edit(ctx)
        if step == "coverage":
            return await self._on_coverage(ctx, words)
        if step == "payment_on_file":
            return await self._on_payment_on_file(ctx, words)
        if step == "payment":
            return await self._on_payment(ctx, words)
        if step == "consent":
            return await self._on_consent(ctx, words)
        return await self._first_offer(ctx, None)  # unknown state: start the choice again

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """Booking starts no children."""
        return Wait()

    async def _on_slot(self, ctx: DialogContext, words: str) -> Step:
        zone, offered = self._zone_of(ctx), self._offered(ctx)
        choice = picked(ctx.input.text, dict(ctx.input.value or {}), offered, zone, ctx.language)
        if choice is not None:
            return await self._hold(ctx, choice)
        now = self._clock()
        if is_word("later", words, ctx.language) and offered:
            after = offered[-1].start + timedelta(seconds=1)
            slots = await self._visits.free_slots(after, self._window_end(ctx), PAGE)
            if slots:
                return self._offer(ctx, slots, say("offer", ctx.language, zone=zone.key))
            return await self._reoffer(ctx, "none_then")
        wanted = wanted_range(ctx.input.text, now, zone, ctx.language)
        if wanted is None:
            ctx.say(say("pick_again", ctx.language),
                    suggestions=tuple(slot_label(s, zone, ctx.language) for s in offered))  # fmt: skip
            return Wait()
        end = min(wanted.end, self._window_end(ctx))
        slots = await self._visits.free_slots(wanted.start, end, PAGE)
        exact = [s for s in slots if wanted.exact and s.start == wanted.start]
        if exact:
            return await self._hold(ctx, exact[0])
        if slots:
            return self._offer(ctx, slots, say("offer", ctx.language, zone=zone.key))
        return await self._reoffer(ctx, "none_then")

    async def _hold(self, ctx: DialogContext, slot: OpenSlot) -> Step:
        try:
            hold = await self._visits.scheduler.hold(slot)
        except SlotTaken:
            return await self._reoffer(ctx, "taken")
        ctx.state["hold"] = _hold_to_json(hold)
        label = slot_label(slot, self._zone_of(ctx), ctx.language)
        ctx.say(say("held", ctx.language, slot=label, minutes=str(self._hold_minutes)))
        if ctx.state.get("intake_done") is True or "reschedule" in ctx.state:
            return await self._to_consent_or_book(ctx)
        return await self._ask_contact(ctx)

    async def _ask_contact(self, ctx: DialogContext) -> Step:
        patient = self._patient(ctx)
        contact = await self._visits.intake.contact(patient.reference, patient.person)
        dash = "—"
        ctx.state["step"] = "contact"
        ctx.say(
            say("contact", ctx.language, email=contact.email or dash, phone=contact.phone or dash,
                address=contact.address or dash),
            suggestions=SUGGESTIONS["contact"][ctx.language],
        )  # fmt: skip
        return Wait()

    async def _on_contact(self, ctx: DialogContext, words: str) -> Step:
        if is_word("yes", words, ctx.language):
            return await self._ask_coverage(ctx)
        if is_word("change", words, ctx.language):
            ctx.state["step"] = "contact_edit"
            ctx.say(say("contact_ask", ctx.language))
            return Wait()
        if "@" in ctx.input.text or sum(c.isdigit() for c in ctx.input.text) >= 6:
            return await self._on_contact_edit(ctx)  # typed the new detail straight away
        ctx.say(say("yes_no", ctx.language), suggestions=SUGGESTIONS["contact"][ctx.language])
        return Wait()

    async def _on_contact_edit(self, ctx: DialogContext) -> Step:
        patient = self._patient(ctx)
        try:
            await self._visits.intake.update_contact(
                patient.reference, patient.person, ctx.input.text
            )
        except IntakeInputError:
            ctx.say(say("contact_bad", ctx.language))
            return Wait()
        return await self._ask_contact(ctx)

    async def _ask_coverage(self, ctx: DialogContext) -> Step:
        patient = self._patient(ctx)
        coverage = await self._visits.intake.coverage(patient.reference, patient.person)
        if coverage is None:
            ctx.state["payer"] = "self-pay"
            ctx.say(say("no_coverage", ctx.language))
            return await self._ask_payment(ctx)
        ctx.state["step"] = "coverage"
        ctx.say(say("coverage", ctx.language, payer=coverage.payer, last=coverage.member_id[-4:]),
                suggestions=SUGGESTIONS["coverage"][ctx.language])  # fmt: skip
        return Wait()

    async def _on_coverage(self, ctx: DialogContext, words: str) -> Step:
        if is_word("insurance", words, ctx.language) or is_word("yes", words, ctx.language):
            ctx.state["payer"] = "insurance"
        elif is_word("self_pay", words, ctx.language):
            ctx.state["payer"] = "self-pay"
        else:
            ctx.say(say("coverage_again", ctx.language),
                    suggestions=SUGGESTIONS["coverage"][ctx.language])  # fmt: skip
            return Wait()
        return await self._ask_payment(ctx)

    async def _ask_payment(self, ctx: DialogContext) -> Step:
        patient = self._patient(ctx)
        kind = await self._visits.intake.payment_kind(patient.reference, patient.person)
        if kind is None:
            ctx.state["step"] = "payment"
            ctx.say(
                say("payment_ask", ctx.language), suggestions=SUGGESTIONS["payment"][ctx.language]
            )
            return Wait()
        ctx.state["step"], ctx.state["payment_on_file"] = "payment_on_file", kind
        ctx.say(say("payment_on_file", ctx.language, kind=PAYMENT_NAMES[kind][ctx.language]),
                suggestions=SUGGESTIONS["payment_on_file"][ctx.language])  # fmt: skip
        return Wait()

    async def _on_payment_on_file(self, ctx: DialogContext, words: str) -> Step:
        if is_word("yes", words, ctx.language):
            ctx.state["payment"] = ctx.state.get("payment_on_file")
            return await self._to_consent_or_book(ctx)
        if is_word("change", words, ctx.language):
            ctx.state["step"] = "payment"
            ctx.say(
                say("payment_ask", ctx.language), suggestions=SUGGESTIONS["payment"][ctx.language]
            )
            return Wait()
        return await self._on_payment(ctx, words)

    async def _on_payment(self, ctx: DialogContext, words: str) -> Step:
        kind = next((k for k in PAYMENT_NAMES if is_word(k, words, ctx.language)), None)
        if kind is None:
            ctx.say(
                say("payment_ask", ctx.language), suggestions=SUGGESTIONS["payment"][ctx.language]
            )
            return Wait()
        ctx.state["payment"] = kind
        return await self._to_consent_or_book(ctx)

    async def _to_consent_or_book(self, ctx: DialogContext) -> Step:
        ctx.state["intake_done"] = True
        patient = self._patient(ctx)
        if await self._visits.consents.active(patient.reference, patient.person) is not None:
            return await self._book(ctx)
        ctx.state["step"] = "consent"
        ctx.say(say("consent_intro", ctx.language))
        ctx.say(consent_text(ctx.language))
        return Wait()

    def _signature(self, ctx: DialogContext, name: str) -> Signature:
        patient = self._patient(ctx)
        return Signature(
            patient.reference, patient.person, name, consent_text(ctx.language), ctx.language,
            self._channel, self._clock(),
        )  # fmt: skip

    async def _on_consent(self, ctx: DialogContext, words: str) -> Step:
        patient = self._patient(ctx)
        if is_word("refuse", words, ctx.language):
            await self._visits.consents.refuse(self._signature(ctx, ctx.person.display_name))
            hold = _hold_from_json(ctx.state.get("hold"))
            await self._visits.refused(hold, patient)
            ctx.say(say("refused", ctx.language))
            return Done()
        contact = await self._visits.intake.contact(patient.reference, patient.person)
        names = {normalise(contact.name), normalise(ctx.person.display_name)} - {""}
        if words not in names:
            ctx.say(
                say("consent_again", ctx.language, name=contact.name or ctx.person.display_name)
            )
            return Wait()
        await self._visits.consents.sign(self._signature(ctx, ctx.input.text.strip()))
        return await self._book(ctx)

    async def _book(self, ctx: DialogContext) -> Step:
        patient = self._patient(ctx)
        hold = _hold_from_json(ctx.state.get("hold"))
        old = ctx.state.get("reschedule")
        try:
            if isinstance(old, str):
                visit, url = await self._visits.reschedule(old, hold, patient)
            else:
                visit, url = await self._visits.book(hold, patient)
        except SlotTaken:
            ctx.state.pop("hold", None)
            return await self._reoffer(ctx, "taken")
        except ConsentRequired:
            ctx.state["step"] = "consent"
            ctx.say(consent_text(ctx.language))
            return Wait()
        label = slot_label(hold.slot, self._zone_of(ctx), ctx.language)
        key = "rescheduled" if isinstance(old, str) else "booked"
        if url is None:  # booked; the meetings backend did not give the link just now
            ctx.say(say(key, ctx.language, provider=visit.provider_name, slot=label, url="—"))
            ctx.say(say("link_later", ctx.language))
        else:
            ctx.say(say(key, ctx.language, provider=visit.provider_name, slot=label, url=url))
        contact = await self._visits.intake.contact(patient.reference, patient.person)
        if contact.email:
            ctx.say(say("mail_sent", ctx.language, email=contact.email))
        return Done()
