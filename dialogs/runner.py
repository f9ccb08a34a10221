"""Runs one user turn through the dialog stack kept in conversation state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dialogs.assessment import TriageEngine, TurnAssessments
from dialogs.base import (
    JSON,
    Dialog,
    DialogContext,
    Done,
    Interrupt,
    Opening,
    Person,
    Reply,
    StartChild,
    Step,
    UserInput,
    Wait,
)
from dialogs.outcomes import Outcome

_log = logging.getLogger(__name__)

# A typical interview has about 8 questions; a runaway chain of child starts is a bug.
MAX_STEPS_PER_TURN = 32


class UnknownDialogError(LookupError):
    """A step or a stored frame named a dialog that is not registered."""


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced: the replies, and the stack to persist."""

    replies: tuple[Reply, ...]
    stack: list[JSON]


def _frame(name: str) -> dict[str, JSON]:
    return {"name": name, "state": {}}


class DialogRunner:
    """Owns the registered dialogs, the root dialog, the interrupts and the triage engine."""

    def __init__(
        self,
        root: Dialog[Opening],
        dialogs: Sequence[Dialog[Any]],
        interrupts: Sequence[Interrupt] = (),
        *,
        engine: TriageEngine,
    ) -> None:
        self._root = root
        self._dialogs: dict[str, Dialog[Any]] = {}
        for dialog in (root, *dialogs):
            if self._dialogs.setdefault(dialog.name, dialog) is not dialog:
                raise ValueError(f"two dialogs have the id {dialog.name!r}")
        self._interrupts = tuple(interrupts)
        self.engine = engine

    def _dialog(self, name: str) -> Dialog[Any]:
        try:
            return self._dialogs[name]
        except KeyError:
            raise UnknownDialogError(name) from None

    def _registered(self, dialog: Dialog[Any]) -> str:
        # A frame stores only the id: a child the runner could not find again next turn
        # (not registered, or another object under the same id) is a wiring bug.
        if self._dialogs.get(dialog.name) is not dialog:
            raise UnknownDialogError(dialog.name)
        return dialog.name

    async def run_turn(
        self, person: Person, user_input: UserInput, stack: list[JSON]
    ) -> TurnResult:
        """Handle USER_INPUT with the persisted STACK; return replies and the new stack."""
        frames: list[dict[str, JSON]] = [
            f for f in stack if isinstance(f, dict) and isinstance(f.get("name"), str)
        ]
        if any(str(f["name"]) not in self._dialogs for f in frames):
            # A dialog this deployment no longer has: start afresh rather than fail each turn.
            _log.warning("stored dialog stack names an unregistered dialog; starting over")
            frames = []
        replies: list[Reply] = []
        assessments = TurnAssessments(self.engine, user_input.text, person.language)
        active = tuple(str(f["name"]) for f in frames)

        def context(frame: dict[str, JSON]) -> DialogContext:
            state = frame.get("state")
            if not isinstance(state, dict):
                state = frame["state"] = {}
            return DialogContext(
                person=person,
                input=user_input,
                state=state,
                assessments=assessments,
                replies=replies,
                active=active,
            )

        probe = context({"state": {}})
        # The turn's words are assessed once, in a worker thread so that a long message does
        # not hold the event loop; the interrupts, the menu and the dialogs reuse the result.
        await asyncio.to_thread(assessments.words)
        step: Step | None = None
        for interrupt in self._interrupts:
            step = await interrupt.check(probe)
            if isinstance(step, Done):  # a red flag, or "cancel": no dialog resumes after it
                return TurnResult(tuple(replies), [])
            if isinstance(step, Wait):  # e.g. "help": answered, the stack stays as it was
                return TurnResult(tuple(replies), list(stack))
            if isinstance(step, StartChild):  # another capability named: start it afresh
                frames = [_frame(self._root.name)]
                break

        if step is None:
            if frames:
                top = frames[-1]
                step = await self._dialog(str(top["name"])).resume(context(top))
            else:
                frames.append(_frame(self._root.name))
                step = await self._root.begin(context(frames[-1]), Opening(user_input.text))

        for _ in range(MAX_STEPS_PER_TURN):
            if isinstance(step, Wait):
                break
            if isinstance(step, StartChild):
                frames.append(_frame(self._registered(step.dialog)))
                step = await step.dialog.begin(context(frames[-1]), step.args)
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


def _result(step: Step) -> Outcome | None:
    return step.result if isinstance(step, Done) else None
