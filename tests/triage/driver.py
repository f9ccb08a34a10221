"""A tiny driver for scripted dialog tests: plays turns through the real runner, with
the stack round-tripped through JSON each turn as the bot's storage does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dialogs.base import JSON, Dialog, DialogContext, Done, Person, Reply, Step, UserInput, Wait
from dialogs.evidence import TriageRecord
from dialogs.menu import MenuDialog
from dialogs.red_flag_interrupt import RedFlagInterrupt
from dialogs.runner import DialogRunner
from dialogs.triage import VitalReading, mentions_symptom
from dialogs.triage.advice import EmergencyNumbers


def _menu(names: list[str]) -> MenuDialog:
    return MenuDialog(names, EmergencyNumbers(), mentions_symptom)


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
    """Keeps records in a list."""

    def __init__(self) -> None:
        self.records: list[TriageRecord] = []

    async def record_triage(self, record: TriageRecord) -> None:
        self.records.append(record)


class FakeBooking:
    """Stands in for the booking dialog: remembers the hand-off it was started with."""

    name = "booking"

    def __init__(self) -> None:
        self.started_with: list[dict[str, JSON]] = []

    async def begin(self, ctx: DialogContext, args: Mapping[str, JSON]) -> Step:
        self.started_with.append(dict(args))
        ctx.say("booking started")
        return Done()

    async def resume(self, ctx: DialogContext) -> Step:
        return Wait()

    async def on_child_done(
        self, ctx: DialogContext, child: str, result: Mapping[str, JSON]
    ) -> Step:
        return Done()


@dataclass
class Conversation:
    """One conversation: send words or card data, read the bot's replies."""

    person: Person
    dialogs: Sequence[Dialog]
    interrupts: Sequence[RedFlagInterrupt] = ()
    stack: list[JSON] = field(default_factory=list)
    last: tuple[Reply, ...] = ()

    @property
    def runner(self) -> DialogRunner:
        return DialogRunner(_menu([d.name for d in self.dialogs]), self.dialogs, self.interrupts)

    async def send(self, text: str = "", value: Mapping[str, JSON] | None = None) -> list[str]:
        """Play one turn; returns the reply texts."""
        result = await self.runner.run_turn(self.person, UserInput(text, value), self.stack)
        self.stack = json.loads(json.dumps(result.stack))  # persisted between turns
        self.last = result.replies
        return [r.text for r in result.replies]

    @property
    def active(self) -> list[str]:
        """Names of the dialogs on the stack, bottom first."""
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
