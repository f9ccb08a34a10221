"""The Microsoft Bookings scheduler (`CAREBOT_SCHEDULER=bookings`), through msgraph-sdk.

Free times come from Bookings (`getStaffAvailability` for the business's staff members,
cut into visits of the service's length). Holds are the embedded scheduler's FHIR Slot
holds (one holder under any concurrency, across processes), on a Schedule mirrored from
each staff member; booking writes the FHIR Appointment first (keyed by the hold), then the
Bookings appointment, created once (`create_once`: a look-up in the calendar view before
any retry finds an appointment a lost reply had made), and records its id on the FHIR
Appointment, so the queue, alerts and reminders see one record. Bookings gets no patient
details: the FHIR record says who the visit is for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.booking_appointment import BookingAppointment
from msgraph.generated.models.booking_staff_member import BookingStaffMember
from msgraph.generated.models.bookings_availability_status import BookingsAvailabilityStatus
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.solutions.booking_businesses.item.appointments.item.cancel.cancel_post_request_body import (
    CancelPostRequestBody,
)
from msgraph.generated.solutions.booking_businesses.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.solutions.booking_businesses.item.get_staff_availability.get_staff_availability_post_request_body import (
    GetStaffAvailabilityPostRequestBody,
)

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir.access import FhirAccess
from integrations.graph.client import GraphClient
from integrations.graph.retry_policy import GraphUnavailable, call_with_retry, create_once
from integrations.scheduling.fhir_scheduler import TIMEZONE_EXTENSION, FhirScheduler
from integrations.scheduling.models import (
    Booking,
    Hold,
    OpenSlot,
    SchedulerUnavailable,
    SchedulingError,
    SlotTaken,
)

Json = dict[str, Any]
STAFF_SYSTEM = f"{CAREBOT_BASE_URL}/bookings-staff"
BOOKINGS_APPOINTMENT_SYSTEM = f"{CAREBOT_BASE_URL}/bookings-appointment"
NOTE_PREFIX = "carebot visit "


@dataclass(frozen=True)
class _Staff:
    staff_id: str
    schedule: str  # "Schedule/id" mirrored in FHIR
    practitioner: str  # "Practitioner/id" mirrored in FHIR
    name: str
    zone: str


def _graph_time(moment: datetime) -> DateTimeTimeZone:
    return DateTimeTimeZone(
        date_time=moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC"
    )


def parse_graph_time(value: DateTimeTimeZone | None) -> datetime:
    """A Graph dateTimeTimeZone as an aware UTC datetime (pure; IANA or UTC zones)."""
    if value is None or not value.date_time:
        raise SchedulingError("Bookings gave a time without a value")
    text = value.date_time.replace("Z", "")
    text = text.split(".")[0] if "." in text else text
    moment = datetime.fromisoformat(text[:19])
    try:
        zone = ZoneInfo(value.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def visit_starts(
    start: datetime, end: datetime, length: timedelta, window: tuple[datetime, datetime]
) -> list[datetime]:
    """Starts of visits of LENGTH inside an available range [START, END) that begin in
    WINDOW (pure)."""
    found: list[datetime] = []
    moment = start
    while moment + length <= end:
        if window[0] <= moment < window[1]:
            found.append(moment)
        moment += length
    return found


def _zone(name: str | None, default: str) -> str:
    try:
        ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return name or default


class BookingsScheduler:
    """`Scheduler` on a Microsoft Bookings business, mirrored into FHIR."""

    def __init__(
        self,
        access: FhirAccess,
        graph: GraphClient,
        business_id: str,
        *,
        online: bool,
        slot_minutes: int = 30,
        hold_minutes: int = 10,
        default_zone: str = "UTC",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        staff_ttl_s: float = 300.0,
    ) -> None:
        self._access = access
        self._system = access.system()
        self._business = graph.sdk.solutions.booking_businesses.by_booking_business_id(business_id)
        self._online = online  # the Bookings appointment carries the Teams join link
        self._holds = FhirScheduler(
            access, slot_minutes=slot_minutes, hold_minutes=hold_minutes,
            default_zone=default_zone, clock=clock,
        )  # fmt: skip
        self._default_length = timedelta(minutes=slot_minutes)
        self._default_zone = default_zone
        self._clock = clock
        self._ttl = timedelta(seconds=staff_ttl_s)
        self._staff: tuple[datetime, list[_Staff], str | None, timedelta] | None = None
        self._loading = asyncio.Lock()
        # Bookings answers 500 to an appointment created while another is: ours go one at
        # a time (other processes' are retried after a look-up)
        self._creating = asyncio.Lock()

    # ----- the business's staff and service, mirrored once ------------------------------
    async def _mirror(self, key: str, document: Json) -> str:
        """The id of the clinic's resource keyed KEY, created once (If-None-Exist)."""
        kind = document["resourceType"]
        _, data = await self._system.request_json(
            "POST", kind, body=document,
            headers={"If-None-Exist": f"identifier={STAFF_SYSTEM}|{key}",
                     "Prefer": "return=representation"},
            idempotent=True,
        )  # fmt: skip
        if not data or "id" not in data:
            raise SchedulingError(f"the store returned no {kind}")
        return f"{kind}/{data['id']}"

    async def _load(self) -> tuple[list[_Staff], str | None, timedelta]:
        async with self._loading:
            now = self._clock()
            if self._staff is not None and now - self._staff[0] < self._ttl:
                return self._staff[1], self._staff[2], self._staff[3]
            members = await self._business.staff_members.get()
            services = await self._business.services.get()
            service = next(iter((services.value if services else None) or []), None)
            length = (service.default_duration if service else None) or self._default_length
            staff: list[_Staff] = []
            for member in (members.value if members else None) or []:
                if not isinstance(member, BookingStaffMember) or not member.id:
                    continue
                name = member.display_name or "Provider"
                given, _, family = name.rpartition(" ")
                email = [{"system": "email", "value": member.email_address}] if (
                    member.email_address) else []  # fmt: skip
                practitioner = await self._mirror(member.id, {
                    "resourceType": "Practitioner",
                    "identifier": [{"system": STAFF_SYSTEM, "value": member.id}],
                    "name": [{"text": name, "family": family or name,
                              **({"given": [given]} if given else {})}],
                    "telecom": email,
                })  # fmt: skip
                zone = _zone(member.time_zone, self._default_zone)
                schedule = await self._mirror(member.id, {
                    "resourceType": "Schedule", "active": True,
                    "identifier": [{"system": STAFF_SYSTEM, "value": member.id}],
                    "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": zone}],
                    "actor": [{"reference": practitioner, "display": name}],
                })  # fmt: skip
                staff.append(_Staff(member.id, schedule, practitioner, f"Dr {name}", zone))
            self._staff = (now, staff, service.id if service else None, length)
            return staff, self._staff[2], length

    # ----- free slots --------------------------------------------------------------------
    async def free_slots(self, start: datetime, end: datetime, limit: int = 20) -> list[OpenSlot]:
        """Bookings' available times of every staff member starting in [START, END), less
        the slots carebot holds or booked; asked a day first, then twice as far each time
        until LIMIT are found (the SDK parses each availability item at some cost)."""
        start = max(start, self._clock())
        found: list[OpenSlot] = []
        span = timedelta(days=1)
        while start < end and len(found) < limit:
            upto = min(end, start + span)
            found += await self._free_between(start, upto)
            start, span = upto, span * 2
        return found[:limit]

    async def _free_between(self, start: datetime, end: datetime) -> list[OpenSlot]:
        try:
            staff, _, length = await self._load()
            body = GetStaffAvailabilityPostRequestBody(
                staff_ids=[s.staff_id for s in staff],
                start_date_time=_graph_time(start),
                end_date_time=_graph_time(end + length),
            )
            answer = await self._business.get_staff_availability.post(body)
        except ODataError as error:
            raise SchedulerUnavailable(f"Bookings answered {error.response_status_code}") from None
        by_id = {s.staff_id: s for s in staff}
        taken = await self._holds.taken(start, end)
        found: list[OpenSlot] = []
        for item in (answer.value if answer else None) or []:
            member = by_id.get(item.staff_id or "")
            if member is None:
                continue
            for free in item.availability_items or []:
                if free.status != BookingsAvailabilityStatus.Available:
                    continue
                first = parse_graph_time(free.start_date_time)
                last = parse_graph_time(free.end_date_time)
                for moment in visit_starts(first, last, length, (start, end)):
                    slot = OpenSlot(member.schedule, member.practitioner, member.name,
                                    moment, moment + length, member.zone)  # fmt: skip
                    if slot.key not in taken:
                        found.append(slot)
        found.sort(key=lambda s: (s.start, s.provider_name))
        return found

    # ----- holds (FHIR Slots) --------------------------------------------------------------
    async def hold(self, slot: OpenSlot) -> Hold:
        """Hold SLOT (a FHIR Slot hold: one holder under any concurrency)."""
        return await self._holds.hold(slot)

    async def release(self, hold: Hold) -> None:
        """Give HOLD back."""
        await self._holds.release(hold)

    # ----- booking -------------------------------------------------------------------------
    async def _find(self, hold: Hold) -> BookingAppointment | None:
        """The Bookings appointment this hold made, if a lost reply hid it."""
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start=hold.slot.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end=hold.slot.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        found = await self._business.calendar_view.get(RequestConfiguration(query_parameters=query))
        note = NOTE_PREFIX + hold.token
        return next((a for a in (found.value if found else None) or []
                     if a.service_notes == note), None)  # fmt: skip

    async def _create(self, hold: Hold) -> BookingAppointment:
        staff, service_id, _ = await self._load()
        member = next((s for s in staff if s.schedule == hold.slot.schedule), None)
        if member is None:
            raise SlotTaken("the provider left the booking business")
        appointment = BookingAppointment(
            service_id=service_id, service_name="Virtual visit",
            start_date_time=_graph_time(hold.slot.start),
            end_date_time=_graph_time(hold.slot.end),
            staff_member_ids=[member.staff_id],
            is_location_online=self._online,
            opt_out_of_customer_email=True,  # carebot mails the patient itself
            sms_notifications_enabled=False,
            service_notes=NOTE_PREFIX + hold.token,
        )  # fmt: skip
        made = await self._business.appointments.post(appointment)
        if made is None or not made.id:
            raise SchedulingError("Bookings returned no appointment")
        return made

    async def _fhir_appointment(self, booking: Booking, patient: str, person: str | None) -> Json:
        client = self._access.for_patient(patient, person=person)
        _, data = await client.request_json("GET", f"Appointment/{booking.appointment_id}")
        if not data:
            raise SchedulingError("the store returned no Appointment")
        return data

    async def book(self, hold: Hold, patient: str, person: str | None) -> Booking:
        """Book HOLD: the FHIR Appointment, then the Bookings appointment (once), whose id
        the FHIR Appointment then records. Idempotent for the same hold."""
        booking = await self._holds.book(hold, patient, person)
        appointment = await self._fhir_appointment(booking, patient, person)
        if bookings_id_of(appointment) is not None:
            return booking  # a retry: both sides were made
        try:
            async with self._creating:
                made = await create_once(
                    lambda: self._create(hold), lambda: self._find(hold), look_first=True
                )
        except (GraphUnavailable, ODataError, SlotTaken) as error:
            await self._holds.cancel(booking.appointment_id, patient, person)
            if isinstance(error, ODataError) and error.response_status_code == 409:
                raise SlotTaken("Bookings has the time taken") from None
            if isinstance(error, SlotTaken):
                raise
            raise SchedulerUnavailable("Bookings did not take the appointment") from None
        body = {k: v for k, v in appointment.items() if k != "meta"}
        body["identifier"] = [
            *[i for i in body.get("identifier") or []
              if i.get("system") != BOOKINGS_APPOINTMENT_SYSTEM],
            {"system": BOOKINGS_APPOINTMENT_SYSTEM, "value": made.id},
        ]  # fmt: skip
        version = str((appointment.get("meta") or {}).get("versionId", ""))
        client = self._access.for_patient(patient, person=person)
        await client.request_json(
            "PUT", f"Appointment/{booking.appointment_id}", body=body,
            headers={"If-Match": f'W/"{version}"'},
        )  # fmt: skip
        return booking

    async def bookings_id(self, appointment_id: str) -> str | None:
        """The Bookings appointment behind a FHIR Appointment (clinic data: the service's
        client), None before it was made."""
        _, data = await self._system.request_json("GET", f"Appointment/{appointment_id}")
        return bookings_id_of(data or {})

    async def join_url(self, bookings_id: str) -> str | None:
        """The Teams join link Bookings made for an online appointment."""
        made = await call_with_retry(
            lambda: self._business.appointments.by_booking_appointment_id(bookings_id).get()
        )
        return made.join_web_url if made else None

    async def cancel(self, appointment_id: str, patient: str, person: str | None) -> Booking:
        """Cancel the Bookings appointment (a 404: already gone), then the FHIR one."""
        client = self._access.for_patient(patient, person=person)
        _, data = await client.request_json("GET", f"Appointment/{appointment_id}")
        bookings_id = bookings_id_of(data or {})
        if bookings_id is not None:
            item = self._business.appointments.by_booking_appointment_id(bookings_id)

            async def cancel() -> None:
                try:
                    await item.cancel.post(
                        CancelPostRequestBody(cancellation_message="The visit was cancelled.")
                    )
                except ODataError as error:
                    if error.response_status_code != 404:
                        raise

            try:
                await call_with_retry(cancel)
            except (GraphUnavailable, ODataError):
                raise SchedulerUnavailable("Bookings did not cancel the appointment") from None
        return await self._holds.cancel(appointment_id, patient, person)


def bookings_id_of(appointment: Json) -> str | None:
    """The Bookings appointment id a FHIR Appointment records (pure)."""
    return next(
        (str(i.get("value")) for i in appointment.get("identifier") or []
         if i.get("system") == BOOKINGS_APPOINTMENT_SYSTEM),
        None,
    )  # fmt: skip
