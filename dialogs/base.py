"""The small dialog model every conversation unit follows.

A dialog is a typed object with its services injected through `__init__`. The runner
(`dialogs.runner.DialogRunner`) keeps a stack of active dialogs in conversation state; each
turn it hands the active dialog a `DialogContext` holding the user's input, the person
talking, the dialog's own JSON state and a list to put replies in. A dialog answers with
a `Step`: wait for the next input, finish, or start a child dialog.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None
Language = Literal["en", "fr"]


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
    """One user turn: typed text and/or the data of a submitted Adaptive Card."""

    text: str = ""
    value: Mapping[str, JSON] | None = None


@dataclass(frozen=True)
class Reply:
    """One bot message: plain text, optional quick replies and an optional Adaptive Card."""

    text: str = ""
    suggestions: tuple[str, ...] = ()
    card: Mapping[str, JSON] | None = None


@dataclass
class DialogContext:
    """What a dialog sees during one turn."""

    person: Person
    input: UserInput
    state: dict[str, JSON]
    replies: list[Reply] = field(default_factory=list)

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
    """This dialog is finished; the result goes to the parent's `on_child_done`."""

    result: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class StartChild:
    """Push dialog NAME with ARGS on top of this one."""

    name: str
    args: Mapping[str, JSON] = field(default_factory=dict)


Step: TypeAlias = Wait | Done | StartChild


class Dialog(Protocol):
    """A conversation unit; state lives in `ctx.state`, never on the instance."""

    name: str

    async def begin(self, ctx: DialogContext, args: Mapping[str, JSON]) -> Step:
        """Start: ask the first question or answer at once."""
        ...

    async def resume(self, ctx: DialogContext) -> Step:
        """Handle the user's next input while this dialog is on top."""
        ...

    async def on_child_done(
        self, ctx: DialogContext, child: str, result: Mapping[str, JSON]
    ) -> Step:
        """A child this dialog started has finished."""
        ...


class Interrupt(Protocol):
    """Checked on every user turn before the active dialog (e.g. red-flag detection)."""

    async def check(self, ctx: DialogContext) -> Step | None:
        """Return a step (after queuing replies) to take over, or None to let the turn pass."""
        ...
