"""Runs one user turn through the dialog stack kept in conversation state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dialogs.base import (
    JSON,
    Dialog,
    DialogContext,
    Done,
    Interrupt,
    Person,
    Reply,
    StartChild,
    Step,
    UserInput,
    Wait,
)

# A typical interview has about 8 questions; a runaway chain of child starts is a bug.
MAX_STEPS_PER_TURN = 32


class UnknownDialogError(LookupError):
    """A step named a dialog that is not registered."""


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced: the replies, and the stack to persist."""

    replies: tuple[Reply, ...]
    stack: list[JSON]


def _frame(name: str) -> dict[str, JSON]:
    return {"name": name, "state": {}}


class DialogRunner:
    """Owns the registered dialogs, the root dialog and the interrupts."""

    def __init__(
        self, root: Dialog, dialogs: Sequence[Dialog], interrupts: Sequence[Interrupt] = ()
    ) -> None:
        self._root = root
        self._dialogs: dict[str, Dialog] = {d.name: d for d in (root, *dialogs)}
        self._interrupts = tuple(interrupts)

    def has(self, name: str) -> bool:
        """True when a dialog named NAME is registered."""
        return name in self._dialogs

    def _dialog(self, name: str) -> Dialog:
        try:
            return self._dialogs[name]
        except KeyError:
            raise UnknownDialogError(name) from None

    async def run_turn(
        self, person: Person, user_input: UserInput, stack: list[JSON]
    ) -> TurnResult:
        """Handle USER_INPUT with the persisted STACK; return replies and the new stack."""
        frames: list[dict[str, JSON]] = [f for f in stack if isinstance(f, dict)]
        replies: list[Reply] = []

        def context(frame: dict[str, JSON]) -> DialogContext:
            state = frame["state"]
            if not isinstance(state, dict):
                state = frame["state"] = {}
            return DialogContext(person=person, input=user_input, state=state, replies=replies)

        probe = DialogContext(person=person, input=user_input, state={}, replies=replies)
        for interrupt in self._interrupts:
            if await interrupt.check(probe) is not None:
                # A red flag (or the like) stops everything: no dialog resumes after it.
                return TurnResult(tuple(replies), [])

        if frames:
            top = frames[-1]
            step = await self._dialog(str(top["name"])).resume(context(top))
        else:
            frames.append(_frame(self._root.name))
            step = await self._root.begin(context(frames[-1]), {})

        for _ in range(MAX_STEPS_PER_TURN):
            if isinstance(step, Wait):
                break
            if isinstance(step, StartChild):
                frames.append(_frame(step.name))
                step = await self._dialog(step.name).begin(context(frames[-1]), step.args)
                continue
            finished = frames.pop()
            if not frames:
                break
            parent = frames[-1]
            step = await self._dialog(str(parent["name"])).on_child_done(
                context(parent), str(finished["name"]), _result(step)
            )
        else:
            raise RuntimeError("dialog steps did not settle within one turn")
        persisted: list[JSON] = list(frames)
        return TurnResult(tuple(replies), persisted)


def _result(step: Step) -> Mapping[str, JSON]:
    return step.result if isinstance(step, Done) else {}
