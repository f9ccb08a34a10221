"""The embedded-default scheduler: FHIR Schedule, Slot and Appointment.

Free slots are laid from each provider's `PractitionerRole.availableTime` inside their
Schedule's planning horizon (`availability.py`); a Slot resource exists only once someone
holds a time. A slot's key (schedule + start) is its identifier, created once with
If-None-Exist; every change of its status is an update with If-Match, so of any number of
patients racing for one slot exactly one holds it, and only the holder books it (the store
serialises writes and answers 412 to a stale version).

Slots, schedules and providers are the clinic's, read and written with the service's
client; the Appointment is the patient's, written through their own client
(`FhirAccess.for_patient`), so the store audits it and keeps it in their compartment.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B.slot import Slot

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir.access import FhirAccess
from integrations.fhir.errors import PreconditionFailed, ResourceNotFound
from integrations.fhir.search import SearchQuery
from integrations.scheduling.availability import WeeklyHours, candidate_starts, weekly_hours
from integrations.scheduling.models import Booking, Hold, OpenSlot, SchedulingError, SlotTaken

Json = dict[str, Any]
SLOT_SYSTEM = f"{CAREBOT_BASE_URL}/slot"
APPOINTMENT_SYSTEM = f"{CAREBOT_BASE_URL}/appointment"
HOLD_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/slot-hold"
TIMEZONE_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/timezone"
MEETING_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/meeting-url"
VIRTUAL_VISIT = {"text": "Virtual visit"}


@dataclass(frozen=True)
class _Provider:
    schedule: str
    practitioner: str
    name: str
    zone: str
    hours: tuple[WeeklyHours, ...]
    horizon: tuple[date | None, date | None]


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _name(practitioner: Json) -> str:
    names = practitioner.get("name") or [{}]
    first = names[0]
    given = " ".join(first.get("given") or [])
    return f"Dr {given} {first.get('family', '')}".strip()


def _hold_of(slot: Json) -> tuple[str, datetime] | None:
    for ext in slot.get("extension") or []:
        if ext.get("url") == HOLD_EXTENSION:
            parts = {e.get("url"): e for e in ext.get("extension") or []}
            token = parts.get("token", {}).get("valueString")
            expires = parts.get("expires", {}).get("valueDateTime")
            if isinstance(token, str) and isinstance(expires, str):
                return token, _parse_instant(expires)
    return None


def _hold_extension(token: str, expires: datetime) -> Json:
    return {
        "url": HOLD_EXTENSION,
        "extension": [
            {"url": "token", "valueString": token},
            {"url": "expires", "valueDateTime": _instant(expires)},
        ],
    }


def _with_extensions(resource: Json, extensions: list[Json]) -> Json:
    """RESOURCE with EXTENSIONS (no empty array: FHIR forbids one)."""
    changed = {k: v for k, v in resource.items() if k != "extension"}
    if extensions:
        changed["extension"] = extensions
    return changed


def _freed(slot: Json) -> Json:
    """SLOT free again, without its hold."""
    kept = [e for e in slot.get("extension") or [] if e.get("url") != HOLD_EXTENSION]
    return {**_with_extensions(slot, kept), "status": "free"}


HELD_KEPT = 1000  # holds of this process remembered for `book`


class FhirScheduler:
    """`Scheduler` on FHIR Schedule/Slot/Appointment (the embedded default)."""

    def __init__(
        self,
        access: FhirAccess,
        *,
        slot_minutes: int = 30,
        hold_minutes: int = 10,
        default_zone: str = "UTC",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        providers_ttl_s: float = 60.0,
    ) -> None:
        self._access = access
        self._system = access.system()
        self._length = timedelta(minutes=slot_minutes)
        self._hold = timedelta(minutes=hold_minutes)
        self._default_zone = default_zone
        self._clock = clock
        self._providers_ttl = timedelta(seconds=providers_ttl_s)
        self._providers: tuple[datetime, list[_Provider]] | None = None
        # the Slot each hold of this process wrote, so `book` need not read it back; a
        # stale copy only costs a refused If-Match, then the slot is read as before
        self._held: OrderedDict[str, Json] = OrderedDict()

    # ----- reading the clinic's schedules -------------------------------------------------
    async def _load_providers(self) -> list[_Provider]:
        now = self._clock()
        if self._providers is not None and now - self._providers[0] < self._providers_ttl:
            return self._providers[1]
        _, bundle = await self._system.request_json(
            "GET",
            "Schedule",
            params=[("active", "true"), ("_include", "Schedule:actor"), ("_count", "200")],
        )
        entries = [e.get("resource") or {} for e in (bundle or {}).get("entry") or []]
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in entries}
        providers: list[_Provider] = []
        for schedule in (r for r in entries if r.get("resourceType") == "Schedule"):
            actors = [a.get("reference", "") for a in schedule.get("actor") or []]
            role = next((by_ref.get(a) for a in actors if a.startswith("PractitionerRole/")), None)
            doctor = next((a for a in actors if a.startswith("Practitioner/")), None)
            if role is None or doctor is None or doctor not in by_ref:
                continue
            hours = weekly_hours(role.get("availableTime") or [])
            if not hours:
                continue
            zone = next(
                (
                    e.get("valueCode")
                    for e in schedule.get("extension") or []
                    if e.get("url") == TIMEZONE_EXTENSION
                ),
                self._default_zone,
            )
            horizon = schedule.get("planningHorizon") or {}
            providers.append(
                _Provider(
                    schedule=f"Schedule/{schedule['id']}",
                    practitioner=doctor,
                    name=_name(by_ref[doctor]),
                    zone=str(zone),
                    hours=hours,
                    horizon=(
                        date.fromisoformat(horizon["start"][:10]) if "start" in horizon else None,
                        date.fromisoformat(horizon["end"][:10]) if "end" in horizon else None,
                    ),
                )
            )
        self._providers = (now, providers)
        return providers

    async def taken(self, start: datetime, end: datetime) -> set[str]:
        """Keys of slots held (unexpired) or booked with a start in [START, END)."""
        now = self._clock()
        taken: set[str] = set()
        query = (
            SearchQuery(Slot)
            .where(start=[f"ge{_instant(start)}", f"lt{_instant(end)}"])
            .where(status="busy,busy-tentative,busy-unavailable")
            .count(500)
        )
        # every page: a slot left off the first would be offered as free
        slots = [
            entry.get("resource") or {}
            async for page in self._system.search_pages_json(query, max_pages=1000)
            for entry in page.get("entry") or []
        ]
        for slot in slots:
            hold = _hold_of(slot)
            if slot.get("status") == "busy-tentative" and hold is not None and hold[1] <= now:
                continue  # an expired hold frees the slot
            for ident in slot.get("identifier") or []:
                if ident.get("system") == SLOT_SYSTEM:
                    taken.add(str(ident.get("value")))
        return taken

    async def free_slots(self, start: datetime, end: datetime, limit: int = 20) -> list[OpenSlot]:
        """Free slots of every provider starting in [START, END) (never in the past)."""
        start = max(start, self._clock())
        if end <= start:
            return []
        providers = await self._load_providers()
        taken = await self.taken(start, end)
        found: list[OpenSlot] = []
        for p in providers:
            zone = ZoneInfo(p.zone)
            for moment in candidate_starts(p.hours, zone, self._length, start, end, p.horizon):
                slot = OpenSlot(
                    p.schedule, p.practitioner, p.name, moment, moment + self._length, p.zone
                )
                if slot.key not in taken:
                    found.append(slot)
        found.sort(key=lambda s: (s.start, s.provider_name))
        return found[:limit]

    # ----- holds and bookings --------------------------------------------------------------
    async def _slot_resource(self, slot: OpenSlot, hold: Json) -> Json:
        """The Slot resource of SLOT, created once (If-None-Exist on its key); a new one is
        created held by HOLD (the hold extension), an existing one is returned as it is."""
        document: Json = {
            "resourceType": "Slot",
            "identifier": [{"system": SLOT_SYSTEM, "value": slot.key}],
            "extension": [hold],
            "serviceType": [VIRTUAL_VISIT],
            "schedule": {"reference": slot.schedule},
            "status": "busy-tentative",
            "start": _instant(slot.start),
            "end": _instant(slot.end),
        }
        _, data = await self._system.request_json(
            "POST",
            "Slot",
            body=document,
            headers={
                "If-None-Exist": f"identifier={SLOT_SYSTEM}|{slot.key}",
                "Prefer": "return=representation",
            },
            idempotent=True,
        )
        if data is None:
            raise SchedulingError("the store returned no Slot")
        return data

    async def _put_slot(self, slot: Json) -> Json:
        """Update SLOT if its version is still current; `SlotTaken` otherwise."""
        version = str((slot.get("meta") or {}).get("versionId", ""))
        body = {k: v for k, v in slot.items() if k != "meta"}
        try:
            _, data = await self._system.request_json(
                "PUT",
                f"Slot/{slot['id']}",
                body=body,
                headers={"If-Match": f'W/"{version}"', "Prefer": "return=representation"},
                idempotent=False,  # a retried conditional write could see its own version
            )
        except PreconditionFailed:
            raise SlotTaken(slot["id"]) from None
        return data or body

    async def hold(self, slot: OpenSlot) -> Hold:
        """Hold SLOT until now + the hold time."""
        now = self._clock()
        if slot.start <= now:
            raise SlotTaken("the slot has started")
        token, expires = secrets.token_urlsafe(16), now + self._hold
        resource = await self._slot_resource(slot, _hold_extension(token, expires))
        held = _hold_of(resource)
        if held is None or held[0] != token:  # the slot existed: hold it if it is free
            status = resource.get("status")
            if status == "busy" or (status == "busy-tentative" and held and held[1] > now):
                raise SlotTaken(resource["id"])
            free = _freed(resource)
            resource = await self._put_slot({
                **_with_extensions(free, [*free.get("extension", []),
                                          _hold_extension(token, expires)]),
                "status": "busy-tentative",
            })  # fmt: skip
        self._held[str(resource["id"])] = resource
        while len(self._held) > HELD_KEPT:
            self._held.popitem(last=False)
        return Hold(slot, str(resource["id"]), token, expires)

    async def _read_slot(self, slot_id: str) -> Json:
        _, data = await self._system.request_json("GET", f"Slot/{slot_id}")
        if data is None:
            raise SchedulingError("the store returned no Slot")
        return data

    async def release(self, hold: Hold) -> None:
        """Free the slot if HOLD still holds it (not once booked)."""
        resource = await self._read_slot(hold.slot_id)
        held = _hold_of(resource)
        if resource.get("status") != "busy-tentative" or held is None or held[0] != hold.token:
            return
        try:
            await self._put_slot(_freed(resource))
        except SlotTaken:
            return

    async def _appointment_by_key(self, patient: str, person: str | None, key: str) -> Json | None:
        client = self._access.for_patient(patient, person=person)
        _, bundle = await client.request_json(
            "GET", "Appointment", params=[("identifier", f"{APPOINTMENT_SYSTEM}|{key}")]
        )
        entries = (bundle or {}).get("entry") or []
        return entries[0].get("resource") if entries else None

    async def book(self, hold: Hold, patient: str, person: str | None) -> Booking:
        """Mark the slot busy (If-Match), then write the patient's Appointment (keyed by the
        hold, so a retry finds it); the slot is freed again if the Appointment cannot be."""
        resource = await self._busy_from_held(hold)
        if resource is not None:
            return await self._write_appointment(hold, patient, person, resource)
        resource = await self._read_slot(hold.slot_id)
        held = _hold_of(resource)
        if held is None or held[0] != hold.token:
            raise SlotTaken(hold.slot_id)
        if resource.get("status") == "busy":  # booked by this hold already: a retry
            found = await self._appointment_by_key(patient, person, hold.token)
            if found is not None:
                return Booking(str(found["id"]), hold.slot, str(found.get("status")))
        elif resource.get("status") != "busy-tentative":
            raise SlotTaken(hold.slot_id)
        elif held[1] <= self._clock():
            raise SlotTaken("the hold expired")  # someone else may have seen it free
        else:
            resource = await self._put_slot({**resource, "status": "busy"})
        return await self._write_appointment(hold, patient, person, resource)

    async def _busy_from_held(self, hold: Hold) -> Json | None:
        """The slot marked busy from the copy HOLD wrote (one write, no read); None when
        there is no copy, the hold expired, or the copy is stale (then read it)."""
        written = self._held.pop(hold.slot_id, None)
        if written is None or written.get("status") != "busy-tentative":
            return None
        held = _hold_of(written)
        if held is None or held[0] != hold.token or held[1] <= self._clock():
            return None
        try:
            return await self._put_slot({**written, "status": "busy"})
        except SlotTaken:
            return None

    async def _write_appointment(
        self, hold: Hold, patient: str, person: str | None, resource: Json
    ) -> Booking:
        """The patient's Appointment of HOLD (keyed by the hold: a retry finds it); the busy
        slot RESOURCE is freed again if it cannot be written."""
        appointment = self._appointment(hold, patient)
        client = self._access.for_patient(patient, person=person)
        try:
            _, data = await client.request_json(
                "POST",
                "Appointment",
                body=appointment,
                headers={
                    "If-None-Exist": f"identifier={APPOINTMENT_SYSTEM}|{hold.token}",
                    "Prefer": "return=representation",
                },
                idempotent=True,
            )
        except Exception:
            await self._free(resource)
            raise
        if data is None:
            raise SchedulingError("the store returned no Appointment")
        return Booking(str(data["id"]), hold.slot)

    def _appointment(self, hold: Hold, patient: str) -> Json:
        slot = hold.slot
        return {
            "resourceType": "Appointment",
            "identifier": [{"system": APPOINTMENT_SYSTEM, "value": hold.token}],
            "status": "booked",
            "serviceType": [VIRTUAL_VISIT],
            "start": _instant(slot.start),
            "end": _instant(slot.end),
            "created": _instant(self._clock()),
            "slot": [{"reference": f"Slot/{hold.slot_id}"}],
            "participant": [
                {"actor": {"reference": patient}, "status": "accepted", "required": "required"},
                {
                    "actor": {"reference": slot.practitioner, "display": slot.provider_name},
                    "status": "accepted",
                    "required": "required",
                },
            ],
        }

    async def _free(self, slot: Json) -> None:
        try:
            fresh = await self._read_slot(str(slot["id"]))
            await self._put_slot(_freed(fresh))
        except (SlotTaken, ResourceNotFound):
            return

    async def cancel(self, appointment_id: str, patient: str, person: str | None) -> Booking:
        """Set the Appointment cancelled (patient's client) and free its Slot."""
        client = self._access.for_patient(patient, person=person)
        _, data = await client.request_json("GET", f"Appointment/{appointment_id}")
        if data is None:
            raise SchedulingError("no such appointment")
        slot = await self._slot_of(data)
        if data.get("status") != "cancelled":
            body = {k: v for k, v in data.items() if k != "meta"}
            version = str((data.get("meta") or {}).get("versionId", ""))
            await client.request_json(
                "PUT",
                f"Appointment/{appointment_id}",
                body={**body, "status": "cancelled"},
                headers={"If-Match": f'W/"{version}"'},
            )
        # The Appointment is the patient's to write: free only a slot its own hold booked
        # (the hold token is the Appointment's identifier), never one it merely names.
        token = next(
            (
                str(i.get("value"))
                for i in data.get("identifier") or []
                if i.get("system") == APPOINTMENT_SYSTEM
            ),
            None,
        )
        for ref in data.get("slot") or []:
            slot_id = str(ref.get("reference", "")).removeprefix("Slot/")
            try:
                resource = await self._read_slot(slot_id)
            except ResourceNotFound:
                continue
            held = _hold_of(resource)
            if token is None or held is None or held[0] != token:
                continue
            try:
                await self._put_slot(_freed(resource))
            except SlotTaken:
                continue
        return Booking(appointment_id, slot, "cancelled")

    async def _slot_of(self, appointment: Json) -> OpenSlot:
        """The OpenSlot an appointment was booked on (from its own times and provider)."""
        refs = [p.get("actor", {}) for p in appointment.get("participant") or []]
        doctor: Json = next(
            (r for r in refs if str(r.get("reference", "")).startswith("Practitioner/")), {}
        )
        providers = {p.practitioner: p for p in await self._load_providers()}
        provider = providers.get(str(doctor.get("reference")))
        return OpenSlot(
            provider.schedule if provider else "",
            str(doctor.get("reference", "")),
            str(doctor.get("display") or (provider.name if provider else "")),
            _parse_instant(appointment["start"]),
            _parse_instant(appointment["end"]),
            provider.zone if provider else self._default_zone,
        )
