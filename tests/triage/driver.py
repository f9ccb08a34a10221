"""A tiny driver for scripted dialog tests: plays turns through the runner the service
builds (`bot.app.build_runner`), with the stack round-tripped through JSON each turn as the
bot's storage does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.app import DialogServices, build_runner
from dialogs.base import JSON, Dialog, DialogContext, Done, Person, Reply, Step, UserInput, Wait
from dialogs.evidence import TriageRecord, TriageRecorder, VitalsSource
from dialogs.outcomes import Outcome, TriageOutcome
from dialogs.runner import DialogRunner
from dialogs.triage import VitalReading
from dialogs.triage.advice import EmergencyNumbers
from dialogs.triage.knowledge_base import load_knowledge

ALICE = Person("a1", "Alice Martin", fhir_reference="Patient/1", language="en")
CLAIRE = Person("c1", "Claire Dubois", fhir_reference="Patient/2", language="fr")


class FakeVitalsSource:
    """Serves fixed readings, newest first, and remembers what was asked."""

    def __init__(self, readings: Sequence[VitalReading] = ()) -> None:
        self.readings_held = list(readings)
        self.calls: list[tuple[str, datetime, str]] = []

    async def readings(
        self, patient: str, since: datetime, *, reader: str
    ) -> Sequence[VitalReading]:
        self.calls.append((patient, since, reader))
        return [r for r in self.readings_held if r.time is None or r.time >= since]


class FakeRecorder:
    """Keeps records in memory; like the FHIR recorder, idempotent on the key."""

    def __init__(self) -> None:
        self.by_key: dict[str, TriageRecord] = {}
        self.attempts = 0

    @property
    def records(self) -> list[TriageRecord]:
        """The records kept, first written first."""
        return list(self.by_key.values())

    async def record_triage(self, record: TriageRecord) -> None:
        self.attempts += 1
        self.by_key.setdefault(record.key, record)


class RememberedLanguages:
    """Records language choices like the account repository does."""

    def __init__(self) -> None:
        self.chosen: dict[str, str] = {}

    async def set_language(self, account_id: str, language: str) -> None:
        self.chosen[account_id] = language


class FakeBooking:
    """Stands in for the booking dialog: remembers the hand-off it was started with."""

    name = "booking"

    def __init__(self) -> None:
        self.started_with: list[TriageOutcome | None] = []

    async def begin(self, ctx: DialogContext, args: TriageOutcome | None) -> Step:
        self.started_with.append(args)
        ctx.say("booking started")
        return Done()

    async def resume(self, ctx: DialogContext) -> Step:
        return Wait()

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        return Done()


@dataclass
class Conversation:
    """One conversation: send words or card data, read the bot's replies."""

    person: Person
    runner: DialogRunner
    stack: list[JSON] = field(default_factory=list)
    last: tuple[Reply, ...] = ()

    async def send(
        self,
        text: str = "",
        value: Mapping[str, JSON] | None = None,
        *,
        activity_id: str | None = None,
    ) -> list[str]:
        """Play one turn; returns the reply texts."""
        user_input = UserInput(text, value, activity_id=activity_id)
        result = await self.runner.run_turn(self.person, user_input, self.stack)
        self.stack = json.loads(json.dumps(result.stack))  # persisted between turns
        self.last = result.replies
        return [r.text for r in result.replies]

    @property
    def active(self) -> list[str]:
        """Ids of the dialogs on the stack, bottom first."""
        return [str(f["name"]) for f in self.stack if isinstance(f, dict)]

    @property
    def pending(self) -> str | None:
        """The question the triage dialog waits on."""
        for frame in self.stack:
            if isinstance(frame, dict) and frame.get("name") == "triage":
                state = frame.get("state")
                if isinstance(state, dict):
                    value = state.get("pending")
                    return value if isinstance(value, str) else None
        return None


def service_conversation(
    person: Person,
    *,
    vitals: VitalsSource | None = None,
    recorder: TriageRecorder | None = None,
    booking: Dialog[Any] | None = None,
    emergency: EmergencyNumbers | None = None,
    languages: RememberedLanguages | None = None,
    now: datetime | None = None,
) -> Conversation:
    """A conversation with the dialogs wired as the service wires them, on fakes."""
    clock_at = now or datetime.now(UTC)
    _, runner = build_runner(
        DialogServices(
            vitals=vitals or FakeVitalsSource(),
            recorder=recorder or FakeRecorder(),
            languages=languages or RememberedLanguages(),
            knowledge=load_knowledge(),
            emergency=emergency or EmergencyNumbers(),
            clock=lambda: clock_at,
            booking=booking,
        )
    )
    return Conversation(person, runner)
