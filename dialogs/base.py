"""The small dialog model every conversation unit follows.

A dialog is a typed object with its services injected through `__init__`. The runner
(`dialogs.runner.DialogRunner`) keeps a stack of active dialogs in conversation state; each
turn it hands the active dialog a `DialogContext` holding the user's input, the person
talking, the dialog's own JSON state, the turn's shared triage assessments and a list to put
replies in. A dialog answers with a `Step`: wait for the next input, finish with a typed
outcome, or start a child dialog (passed as an object, with typed arguments).

Only the stack crosses turns, as JSON: a frame names its dialog by the dialog's `name` (its
id) and holds its state. Outcomes and arguments are typed values handed over within a turn;
a dialog that keeps one across turns serialises it into its own state
(`dialogs.outcomes.TriageOutcome.to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    from dialogs.assessment import TurnAssessments
    from dialogs.outcomes import Outcome

JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None
Language = Literal["en", "fr"]

A = TypeVar("A")
A_contra = TypeVar("A_contra", contravariant=True)


@dataclass(frozen=True)
class Person:
    """Who is talking, as resolved by the server (never taken from the client)."""

    account_id: str
    display_name: str
    role: str = "patient"
    fhir_reference: str | None = None  # e.g. "Patient/123"
    language: Language = "en"


@dataclass(frozen=True)
class UserInput:
    """One user turn: typed text and/or the data of a submitted Adaptive Card.

    ACTIVITY_ID is the channel's id of the inbound activity: a retried delivery carries the
    same id, so records keyed with it are written once."""

    text: str = ""
    value: Mapping[str, JSON] | None = None
    activity_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One bot message: plain text, optional quick replies and an optional Adaptive Card."""

    text: str = ""
    suggestions: tuple[str, ...] = ()
    card: Mapping[str, JSON] | None = None
    # The language of this reply when it is not the person's at the start of the turn (the
    # confirmation of a language change): the channel then switches its own labels.
    language: Language | None = None


@dataclass(frozen=True)
class Opening:
    """How a capability is started: the words that started it (empty from a button)."""

    text: str = ""


@dataclass
class DialogContext:
    """What a dialog sees during one turn."""

    person: Person
    input: UserInput
    state: dict[str, JSON]
    assessments: TurnAssessments
    replies: list[Reply] = field(default_factory=list)
    active: tuple[str, ...] = ()  # ids of the dialogs on the stack at the start of the turn

    @property
    def language(self) -> Language:
        """The language to answer in."""
        return self.person.language

    def say(self, text: str, *, suggestions: tuple[str, ...] = ()) -> None:
        """Queue a text reply."""
        self.replies.append(Reply(text=text, suggestions=suggestions))

    def send(self, reply: Reply) -> None:
        """Queue a prepared reply (card, suggestions)."""
        self.replies.append(reply)


@dataclass(frozen=True)
class Wait:
    """Keep this dialog active; its `resume` gets the next input."""


@dataclass(frozen=True)
class Done:
    """This dialog is finished; the outcome goes to the parent's `on_child_done`."""

    result: Outcome | None = None


@dataclass(frozen=True)
class StartChild(Generic[A]):
    """Push DIALOG, started with ARGS, on top of this one."""

    dialog: Dialog[A]
    args: A


Step: TypeAlias = Wait | Done | StartChild[Any]


class Dialog(Protocol[A_contra]):
    """A conversation unit started with arguments of type A; state lives in `ctx.state`."""

    @property
    def name(self) -> str:
        """The dialog's id: unique in a runner, stored in the persisted stack."""
        ...

    async def begin(self, ctx: DialogContext, args: A_contra) -> Step:
        """Start: ask the first question or answer at once."""
        ...

    async def resume(self, ctx: DialogContext) -> Step:
        """Handle the user's next input while this dialog is on top."""
        ...

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """A child this dialog started (id CHILD) has finished with RESULT."""
        ...


class Interrupt(Protocol):
    """Checked on every user turn before the active dialog (red flags, cancel, help).

    The step it returns decides what happens to the stack: `Done` ends every dialog, `Wait`
    keeps the stack as it was (the replies were all the turn needed), and `StartChild` starts
    that dialog afresh on top of the root."""

    async def check(self, ctx: DialogContext) -> Step | None:
        """Return a step (after queuing replies) to take over, or None to let the turn pass."""
        ...
