"""The live handoff's two ends: `ChatHandoffDesk` is what the patient's dialog talks to,
`HandoffRelay` what the staff pages call. The care manager's messages reach the patient's
own conversation (portal or Teams, by the stored reference) through the outbox, marked as
from a person; the patient's reach the staff page from the database (server-sent events).

Every staff access to a handoff reads the patient's record through a client acting for the
staff member, so the store writes the AuditEvent (who, which patient)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.proactive import ChatMessage
from dialogs.base import Person
from integrations.accounts import Account
from integrations.alerts.codes import CARE_MANAGER_ROLE
from integrations.alerts.routing import members_with_role
from integrations.fhir.access import FhirAccess
from integrations.persistence.handoffs import Handoff, HandoffMessage, HandoffStore, Sender
from integrations.persistence.outbox import Outbox

# what the patient reads when the care manager joins, writes, and leaves (marked as a person)
_JOINED = {"en": "{name} (care team) has joined the chat.",
           "fr": "{name} (équipe soignante) a rejoint la conversation."}  # fmt: skip
_SAYS = {"en": "{name} (care team): {text}", "fr": "{name} (équipe soignante) : {text}"}
_LEFT = {
    "en": "{name} has handed you back to the care assistant. Say \"menu\" to see what I can do.",
    "fr": "{name} vous a rendu à l'assistant de soins. Dites « menu » pour voir ce que je peux "
          "faire.",
}  # fmt: skip


def _words(table: dict[str, str], language: str, **values: str) -> str:
    return table.get(language, table["en"]).format(**values)


class ChatHandoffDesk:
    """The patient's side: opens requests (assigned to the care manager of the patient's
    active CareTeam, as alerts are) and stores the patient's relayed messages."""

    def __init__(self, store: HandoffStore, fhir: FhirAccess) -> None:
        self._store = store
        self._fhir = fhir

    async def request(self, person: Person) -> str | None:
        """Open PERSON's request; None without a patient record."""
        reference = person.fhir_reference
        if reference is None or not reference.startswith("Patient/"):
            return None
        client = self._fhir.for_patient(reference, person=person.account_id)
        # the care team's care manager, as alerts are routed (none: every care manager sees it)
        _, found = await client.request_json(
            "GET", "CareTeam", params=[("patient", reference), ("status", "active")]
        )
        teams = [e["resource"] for e in (found or {}).get("entry") or [] if "resource" in e]
        managers = members_with_role(teams, CARE_MANAGER_ROLE)
        assigned = managers[0] if managers else None
        handoff = await self._store.open(reference, person.account_id, person.language, assigned)
        return handoff.id

    async def relay(self, handoff_id: str, text: str) -> bool:
        """Store the patient's message for the care manager; False once handed back."""
        try:
            return await self._store.add_message(handoff_id, Sender.PATIENT, text) is not None
        except ValueError:  # too long: the chat's own limit comes first, keep the handoff
            return True

    async def withdraw(self, person: Person) -> None:
        """The patient cancelled."""
        await self._store.withdraw(person.account_id)


class HandoffRelay:
    """The staff side: what a care manager may see and do with handoffs."""

    def __init__(self, store: HandoffStore, fhir: FhirAccess, outbox: Outbox,
                 notify: Callable[[], None]) -> None:  # fmt: skip
        self.store = store
        self._fhir = fhir
        self._outbox = outbox
        self._notify = notify

    async def audited(self, handoff: Handoff, staff: Account) -> str:
        """Read HANDOFF's patient for STAFF (the store writes the AuditEvent); their name."""
        client = self._fhir.for_patient(handoff.patient, person=staff.id)
        _, patient = await client.request_json("GET", handoff.patient)
        names = (patient or {}).get("name") or [{}]
        parts = [*(names[0].get("given") or []), str(names[0].get("family") or "")]
        return " ".join(p for p in parts if p) or handoff.patient

    async def _tell(self, handoff: Handoff, key: str, text: str) -> None:
        await self._outbox.enqueue(ChatMessage(handoff.account_id, text).to_item(
            f"handoff/{handoff.id}/{key}"))  # fmt: skip
        self._notify()

    async def take(self, handoff_id: str, staff: Account) -> Handoff | None:
        """STAFF takes the request; the patient is told who joined."""
        taken = await self.store.take(handoff_id, staff.id, staff.display_name,
                                      staff.fhir_reference)  # fmt: skip
        if taken is not None:
            await self.audited(taken, staff)
            await self._tell(taken, "joined",
                             _words(_JOINED, taken.language, name=staff.display_name))  # fmt: skip
        return taken

    async def say(self, handoff: Handoff, staff: Account, text: str) -> HandoffMessage | None:
        """STAFF's message to the patient (ValueError: empty or too long)."""
        stored = await self.store.add_message(handoff.id, Sender.STAFF, text)
        if stored is not None:
            await self._tell(handoff, f"m{stored.id}",
                             _words(_SAYS, handoff.language, name=staff.display_name,
                                    text=stored.text))  # fmt: skip
        return stored

    async def hand_back(self, handoff_id: str, staff: Account) -> Handoff | None:
        """STAFF hands the conversation back to the bot; the patient is told."""
        closed = await self.store.close(handoff_id, staff.id)
        if closed is not None:
            await self._tell(closed, "left",
                             _words(_LEFT, closed.language, name=staff.display_name))  # fmt: skip
        return closed


@dataclass(frozen=True)
class HandoffDesks:
    """Both ends, built once in the app factory."""

    desk: ChatHandoffDesk
    relay: HandoffRelay


HANDOFFS: web.AppKey[HandoffDesks] = web.AppKey("carebot_handoffs", HandoffDesks)
