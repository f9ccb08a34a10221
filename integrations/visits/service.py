"""Booking, listing, cancelling and rescheduling virtual visits: scheduler + meetings + mail.

`VisitService.link` is the one gate every meeting link goes through (the chat after
booking, "my visits", a reschedule, every mail, reminders): no active Consent of the
patient, no link. Patient data is read and written through the patient's own client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir.access import FhirAccess
from integrations.mail.ics import visit_invitation
from integrations.mail.models import Mail, MailMessage
from integrations.meetings.models import Meeting, MeetingRequest, Meetings, MeetingUnavailable
from integrations.scheduling.fhir_scheduler import MEETING_EXTENSION, TIMEZONE_EXTENSION
from integrations.scheduling.models import Hold, OpenSlot, Scheduler, SchedulerUnavailable
from integrations.visits.consent import ConsentRecords
from integrations.visits.intake import IntakeRecords, contact_of
from integrations.visits.mail_texts import NO_LINK, Kind, Language, mail_text, spoken_time

Json = dict[str, Any]
BOOKED_BY_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/booked-by-account"
REMINDER_SYSTEM = f"{CAREBOT_BASE_URL}/reminder"


class ConsentRequired(Exception):
    """A visit cannot be booked (or its link given) without an active Consent."""


@dataclass(frozen=True)
class Visit:
    """One of a patient's visits, as the Appointment records it."""

    appointment_id: str
    start: datetime
    end: datetime
    practitioner: str
    provider_name: str
    status: str
    meeting_id: str | None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def visit_of(appointment: Json) -> Visit:
    """The Visit an Appointment resource records (pure)."""
    actors = [p.get("actor") or {} for p in appointment.get("participant") or []]
    doctor = next(
        (a for a in actors if str(a.get("reference", "")).startswith("Practitioner/")), {}
    )
    meeting = next(
        (
            e.get("valueString")
            for e in appointment.get("extension") or []
            if e.get("url") == MEETING_EXTENSION
        ),
        None,
    )
    return Visit(
        appointment_id=str(appointment["id"]),
        start=_parse(appointment["start"]),
        end=_parse(appointment["end"]),
        practitioner=str(doctor.get("reference", "")),
        provider_name=str(doctor.get("display", "")),
        status=str(appointment.get("status")),
        meeting_id=str(meeting) if meeting else None,
    )


@dataclass(frozen=True)
class Reminder:
    """A reminder sent by mail: its text for the chat, and the account to send it to."""

    text: str
    account_id: str | None


@dataclass(frozen=True)
class Patient:
    """Who a visit is for: the patient, the account acting, and how to speak to them."""

    reference: str
    person: str | None
    language: Language
    zone: str


class VisitService:
    """Visits of patients, on the scheduler, meetings and mail chosen in the app factory."""

    def __init__(
        self,
        access: FhirAccess,
        scheduler: Scheduler,
        meetings: Meetings,
        mail: Mail,
        *,
        clinic_mail: str,
        zone: str = "UTC",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._zone = zone
        self._access = access
        self.scheduler = scheduler
        self._meetings = meetings
        self._mail = mail
        self.consents = ConsentRecords(access)
        self.intake = IntakeRecords(access)
        self._clinic_mail = clinic_mail
        self._clock = clock

    # ----- the one gate ------------------------------------------------------------------
    async def link(self, visit: Visit, patient: Patient, *, provider: bool = False) -> str | None:
        """The join link of VISIT, only for a booked visit of a patient with an active
        Consent (the provider's moderator link with PROVIDER); `MeetingUnavailable` when
        the meetings backend does not give it just now."""
        meeting = await self._gated(visit, patient)
        if meeting is None:
            return None
        return meeting.provider_url if provider else meeting.patient_url

    async def _gated(self, visit: Visit, patient: Patient) -> Meeting | None:
        """Both links of VISIT after one Consent check; None when the gate is shut."""
        if visit.status != "booked" or visit.meeting_id is None:
            return None
        if await self.consents.active(patient.reference, patient.person) is None:
            return None
        return await self._meetings.links(visit.meeting_id, self._request(visit, patient))

    def _request(self, visit: Visit, patient: Patient) -> MeetingRequest:
        return MeetingRequest(
            visit.appointment_id, visit.start, visit.end, patient.reference, visit.provider_name
        )

    # ----- reading -----------------------------------------------------------------------
    async def _appointment(self, appointment_id: str, patient: Patient) -> Json:
        client = self._access.for_patient(patient.reference, person=patient.person)
        _, data = await client.request_json("GET", f"Appointment/{appointment_id}")
        return data or {}

    async def upcoming(self, patient: Patient) -> list[Visit]:
        """PATIENT's booked visits that have not ended, soonest first."""
        client = self._access.for_patient(patient.reference, person=patient.person)
        now = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        _, bundle = await client.request_json(
            "GET",
            "Appointment",
            params=[("patient", patient.reference), ("status", "booked"), ("date", f"ge{now}")],
        )
        visits = [visit_of(e["resource"]) for e in (bundle or {}).get("entry") or []]
        return sorted(visits, key=lambda v: v.start)

    # ----- booking -----------------------------------------------------------------------
    async def book(self, hold: Hold, patient: Patient) -> tuple[Visit, str | None]:
        """Book HOLD for PATIENT (who must have an active Consent), make the meeting, record
        it on the Appointment and mail both sides; the visit and the patient's link (None:
        booked, but the meetings backend did not give the link just now)."""
        if await self.consents.active(patient.reference, patient.person) is None:
            raise ConsentRequired(patient.reference)
        booking = await self.scheduler.book(hold, patient.reference, patient.person)
        appointment = await self._appointment(booking.appointment_id, patient)
        visit = visit_of(appointment)
        if visit.meeting_id is None:  # a retried booking keeps its first meeting
            try:
                meeting = await self._meetings.create(self._request(visit, patient))
            except SchedulerUnavailable:  # no meeting, so no visit: nothing left half made
                await self.scheduler.cancel(booking.appointment_id, patient.reference,
                                            patient.person)  # fmt: skip
                raise
            visit = await self._record_meeting(appointment, meeting, patient)
        try:
            url = await self.link(visit, patient)
        except MeetingUnavailable:  # the visit stands; the link comes with "my visits"
            url = ""
        if url is None:
            raise ConsentRequired(patient.reference)
        await self._notify("confirmed", visit, patient)
        return visit, url or None

    async def _record_meeting(self, appointment: Json, meeting: Meeting, patient: Patient) -> Visit:
        client = self._access.for_patient(patient.reference, person=patient.person)
        version = str((appointment.get("meta") or {}).get("versionId", ""))
        body = {k: v for k, v in appointment.items() if k != "meta"}
        ours = (MEETING_EXTENSION, BOOKED_BY_EXTENSION)
        body["extension"] = [
            *[e for e in body.get("extension") or [] if e.get("url") not in ours],
            {"url": MEETING_EXTENSION, "valueString": meeting.meeting_id},
        ]
        if patient.person:  # the account reminders are sent to in the chat
            body["extension"].append({"url": BOOKED_BY_EXTENSION, "valueString": patient.person})
        _, data = await client.request_json(
            "PUT", f"Appointment/{appointment['id']}", body=body,
            headers={"If-Match": f'W/"{version}"', "Prefer": "return=representation"},
        )  # fmt: skip
        return visit_of(data or body)

    async def cancel(self, appointment_id: str, patient: Patient) -> Visit:
        """Cancel PATIENT's visit: the Appointment, its slot, its meeting; mails both sides."""
        before = visit_of(await self._appointment(appointment_id, patient))
        await self.scheduler.cancel(appointment_id, patient.reference, patient.person)
        if before.meeting_id is not None:
            await self._meetings.cancel(before.meeting_id)
        visit = visit_of(await self._appointment(appointment_id, patient))
        if before.status == "booked":
            await self._notify("cancelled", visit, patient)
        return visit

    async def reschedule(
        self, appointment_id: str, hold: Hold, patient: Patient
    ) -> tuple[Visit, str | None]:
        """Book HOLD, then cancel the old visit (so the patient is never left with none);
        the new visit and the patient's link."""
        visit, url = await self.book(hold, patient)
        await self.cancel(appointment_id, patient)
        return visit, url

    async def release(self, hold: Hold) -> None:
        """Give a hold back."""
        await self.scheduler.release(hold)

    async def refused(self, hold: Hold, patient: Patient) -> None:
        """The patient refused the consent: free the time and tell the provider (no link)."""
        await self.scheduler.release(hold)
        contact = await self.intake.contact(patient.reference, patient.person)
        email, zone = await self._provider(hold.slot.practitioner)
        if not email:
            return
        when = spoken_time(hold.slot.start, zone, "en")
        subject, text = mail_text("refused", "en", other=contact.name, when=when, url=None)
        key = f"hold/{hold.token}/refused/provider"
        await self._mail.send(MailMessage(key, email, subject, text))

    async def free_slots(self, start: datetime, end: datetime, limit: int) -> list[OpenSlot]:
        """Free slots in [START, END)."""
        return await self.scheduler.free_slots(start, end, limit)

    # ----- reminders ---------------------------------------------------------------------
    async def remind(
        self, appointment_id: str, patient_ref: str, key: str, *, last_try: bool = True
    ) -> Reminder | None:
        """Mail PATIENT_REF's reminder of a booked visit with its link and record it as a
        Communication (once per KEY); the chat text and the account to send it to. None when
        the visit is no longer booked, has started, or has no active Consent. When the
        meetings backend gives no link: `MeetingUnavailable`, unless LAST_TRY, when the
        reminder goes out saying plainly that the link could not be fetched."""
        client = self._access.for_patient(patient_ref, person=None)
        _, appointment = await client.request_json("GET", f"Appointment/{appointment_id}")
        if not appointment:
            return None
        visit = visit_of(appointment)
        if visit.status != "booked" or visit.start <= self._clock():
            return None
        contact = await self.intake.contact(patient_ref, None)
        language: Language = "fr" if contact.language == "fr" else "en"
        patient = Patient(patient_ref, None, language, contact.zone or self._default_zone())
        try:
            url = await self.link(visit, patient)
        except MeetingUnavailable:
            if not last_try:
                raise
            url = ""
        if url is None:
            return None
        when = spoken_time(visit.start, patient.zone, language)
        subject, text = mail_text("reminder", language, other=visit.provider_name, when=when,
                                  url=url or None)  # fmt: skip
        if not url:
            text = f"{text}\n{NO_LINK[language]}"
        if contact.email:
            await self._mail.send(MailMessage(f"{key}/mail", contact.email, subject, text))
        await client.request_json(
            "POST", "Communication",
            body={
                "resourceType": "Communication",
                "identifier": [{"system": REMINDER_SYSTEM, "value": key}],
                "status": "completed",
                "subject": {"reference": patient_ref},
                "about": [{"reference": f"Appointment/{appointment_id}"}],
                "sent": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "payload": [{"contentString": subject}],
            },
            headers={"If-None-Exist": f"identifier={REMINDER_SYSTEM}|{key}"},
            idempotent=True,
        )  # fmt: skip
        account = next(
            (e.get("valueString") for e in appointment.get("extension") or []
             if e.get("url") == BOOKED_BY_EXTENSION),
            None,
        )  # fmt: skip
        return Reminder(text, str(account) if account else None)

    def _default_zone(self) -> str:
        return self._zone

    # ----- mail --------------------------------------------------------------------------
    async def _provider(self, practitioner: str) -> tuple[str | None, str]:
        """The provider's mail address and time zone (clinic data: the service's client)."""
        system = self._access.system()
        _, data = await system.request_json("GET", practitioner)
        email = contact_of(data or {}).email
        _, schedules = await system.request_json(
            "GET", "Schedule", params=[("actor", practitioner), ("active", "true")]
        )
        zone = "UTC"
        for entry in (schedules or {}).get("entry") or []:
            for ext in entry.get("resource", {}).get("extension") or []:
                if ext.get("url") == TIMEZONE_EXTENSION:
                    zone = str(ext.get("valueCode"))
        return email, zone

    async def _notify(self, kind: Kind, visit: Visit, patient: Patient) -> None:
        """Mail the patient (their language and zone) and the provider (English, their
        zone), each with an `.ics`; links only through the gate."""
        contact = await self.intake.contact(patient.reference, patient.person)
        provider_email, provider_zone = await self._provider(visit.practitioner)
        sides: list[tuple[str, str | None, Language, str, str, bool]] = [
            ("patient", contact.email, patient.language, patient.zone, visit.provider_name, False),
            ("provider", provider_email, "en", provider_zone, contact.name, True),
        ]
        meeting = None
        if kind != "cancelled":
            try:
                meeting = await self._gated(visit, patient)
            except MeetingUnavailable:  # mailed without the link: the reminder carries it
                meeting = None
        for side, address, language, zone, other, is_provider in sides:
            if not address:
                continue
            url = None
            if meeting is not None:
                url = meeting.provider_url if is_provider else meeting.patient_url
            await self._mail.send(
                self._message(kind, visit, side, address, language, zone, other, url)
            )

    def _message(
        self, kind: Kind, visit: Visit, side: str, address: str, language: Language,
        zone: str, other: str, url: str | None,
    ) -> MailMessage:  # fmt: skip
        when = spoken_time(visit.start, zone, language)
        subject, text = mail_text(kind, language, other=other, when=when, url=url)
        invitation = visit_invitation(
            uid=f"{visit.appointment_id}@carebot",
            start=visit.start,
            end=visit.end,
            summary=subject,
            description=text,
            organizer=self._clinic_mail,
            attendee=address,
            location=url or "",
            cancelled=kind == "cancelled",
            sequence=1 if kind == "cancelled" else 0,
            stamp=self._clock(),
        )
        attachments = (invitation,) if kind != "reminder" else ()
        key = f"visit/{visit.appointment_id}/{kind}/{side}"
        return MailMessage(key, address, subject, text, attachments)
