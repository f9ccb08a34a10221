""" "My visits" / "mes rendez-vous": upcoming visits with their join links (through the
consent gate), and cancelling or rescheduling one ("cancel 1", "déplacer 2")."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from dialogs.base import Dialog, DialogContext, Done, Opening, StartChild, Step, Wait
from dialogs.booking_dialog import BookingArgs, Reschedule
from dialogs.booking_texts import say
from dialogs.outcomes import Outcome
from dialogs.slot_choice import slot_label
from dialogs.texts import normalise
from integrations.meetings.models import MeetingUnavailable
from integrations.scheduling.models import OpenSlot
from integrations.visits.service import Patient, Visit, VisitService

_ACTION = re.compile(
    r"^(?P<verb>cancel|annuler|annule|reschedule|move|deplacer|deplace|changer)"
    r"(?: (?:visit|the visit|le rendez vous|rendez vous|rdv|le rdv))? (?P<n>\d{1,2})$"
)
_CANCEL_VERBS = ("cancel", "annuler", "annule")


def _label(visit: Visit, zone: ZoneInfo, language: str) -> str:
    slot = OpenSlot("", visit.practitioner, visit.provider_name, visit.start, visit.end, "")
    return slot_label(slot, zone, "fr" if language == "fr" else "en")


class VisitsDialog:
    """Lists the patient's upcoming visits; cancels or reschedules one."""

    name = "visits"

    def __init__(
        self, visits: VisitService, booking: Dialog[BookingArgs], *, zone: ZoneInfo
    ) -> None:
        self._visits = visits
        self._booking = booking
        self._zone = zone

    async def _patient(self, ctx: DialogContext) -> Patient:
        reference = str(ctx.person.fhir_reference)
        contact = await self._visits.intake.contact(reference, ctx.person.account_id)
        return Patient(reference, ctx.person.account_id, ctx.language,
                       contact.zone or self._zone.key)  # fmt: skip

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """List the upcoming visits."""
        reference = ctx.person.fhir_reference
        if reference is None or not reference.startswith("Patient/"):
            ctx.say(say("no_patient", ctx.language))
            return Done()
        return await self._list(ctx)

    async def _list(self, ctx: DialogContext) -> Step:
        patient = await self._patient(ctx)
        upcoming = await self._visits.upcoming(patient)
        ctx.state["ids"] = [v.appointment_id for v in upcoming]
        if not upcoming:
            ctx.say(say("no_visits", ctx.language))
            return Done()
        zone = ZoneInfo(patient.zone)
        lines = [say("visits", ctx.language)]
        for n, visit in enumerate(upcoming, 1):
            lines.append(say("visit_line", ctx.language, n=str(n),
                             slot=_label(visit, zone, ctx.language)))  # fmt: skip
            try:
                url = await self._visits.link(visit, patient)  # the gate
            except MeetingUnavailable:
                lines.append(say("visit_link_later", ctx.language))
                continue
            lines.append(
                say("visit_link", ctx.language, url=url) if url
                else say("visit_no_link", ctx.language)
            )  # fmt: skip
        lines.append(say("visits_pick", ctx.language))
        verbs = ("annuler", "déplacer") if ctx.language == "fr" else ("cancel", "reschedule")
        suggestions = tuple(f"{v} {n}" for n in range(1, len(upcoming) + 1) for v in verbs)
        ctx.say("\n".join(lines), suggestions=suggestions[:8])
        return Wait()

    async def resume(self, ctx: DialogContext) -> Step:
        """Cancel or reschedule the visit named by its number; anything else re-lists."""
        match = _ACTION.match(normalise(ctx.input.text))
        stored = ctx.state.get("ids")
        ids = [str(i) for i in stored] if isinstance(stored, list) else []
        if match is None or not 1 <= int(match["n"]) <= len(ids):
            return await self._list(ctx)
        appointment_id = ids[int(match["n"]) - 1]
        if match["verb"] not in _CANCEL_VERBS:
            return StartChild(self._booking, Reschedule(appointment_id))
        patient = await self._patient(ctx)
        visit = await self._visits.cancel(appointment_id, patient)
        ctx.say(say("cancelled_visit", ctx.language,
                    slot=_label(visit, ZoneInfo(patient.zone), ctx.language),
                    provider=visit.provider_name))  # fmt: skip
        return Done()

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """A reschedule finished."""
        return Done()
