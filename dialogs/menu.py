"""The root dialog: greets, offers what the bot can do, answers help and unknown input, and
hands a consultation outcome on to booking."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.assessment import mentions_symptom
from dialogs.base import (
    Dialog,
    DialogContext,
    Done,
    Language,
    Opening,
    Person,
    Reply,
    StartChild,
    Step,
)
from dialogs.commands import CAPABILITIES, Capability, Command, capability_named, command_in
from dialogs.outcomes import Outcome, TriageOutcome, triage_outcome_of
from dialogs.texts import CAPABILITY_LABELS, HANDOFF_LABEL, message, normalise
from dialogs.triage.advice import EmergencyNumbers

GREETING_WORDS = frozenset({"hello", "hi", "hey", "bonjour", "salut", "bonsoir", "coucou", "start"})
LANGUAGE_WORDS = frozenset({"language", "langue", "change language", "changer de langue"})

# Patient words for each capability, matched loosely on normalised text at the menu.
CAPABILITY_WORDS: dict[Capability, tuple[str, ...]] = {
    "triage": ("check symptoms", "symptom", "i feel", "sick", "pain", "symptome", "malade", "mal "),
    "vitals": ("my vitals", "vitals", "readings", "mes constantes", "constantes", "mesures"),
    "visits": ("my visits", "my appointments", "mes rendez vous", "mes rdv"),
    "booking": ("book", "appointment", "visit", "rendez vous", "rdv", "consultation"),
}


@dataclass(frozen=True)
class Capabilities:
    """The dialogs the menu offers; None where the capability is not built or not enabled."""

    triage: Dialog[Opening] | None = None
    vitals: Dialog[Opening] | None = None
    booking: Dialog[TriageOutcome | None] | None = None
    visits: Dialog[Opening] | None = None
    language: Dialog[Opening] | None = None
    handoff: Dialog[Opening] | None = None  # a care manager in the chat (not listed)

    def offered(self) -> tuple[Capability, ...]:
        """The capabilities that can be started, in the order the menu lists them."""
        return tuple(c for c in CAPABILITIES if getattr(self, c) is not None)


class MenuDialog:
    """Root of every conversation: routes to the capabilities it was given."""

    name = "menu"

    def __init__(self, capabilities: Capabilities, emergency: EmergencyNumbers) -> None:
        self.capabilities = capabilities
        self._emergency = emergency

    def _options(self, language: Language) -> tuple[str, ...]:
        return tuple(CAPABILITY_LABELS[c][language] for c in self.capabilities.offered())

    def _options_text(self, ctx: DialogContext | Person) -> str:
        options = self._options(ctx.language)
        if len(options) <= 1:
            return "".join(options)
        return f"{', '.join(options[:-1])} {message('or', ctx.language)} {options[-1]}"

    def greeting(self, person: Person) -> list[Reply]:
        """Greet PERSON by name and offer the capabilities."""
        first_name = person.display_name.split(" ")[0] or person.display_name
        return [
            Reply(message("greeting", person.language, name=first_name)),
            Reply(
                message("offer", person.language, options=self._options_text(person)),
                suggestions=self._options(person.language),
            ),
        ]

    def offer(self, ctx: DialogContext) -> None:
        """Offer the capabilities."""
        ctx.say(
            message("offer", ctx.language, options=self._options_text(ctx)),
            suggestions=self._options(ctx.language),
        )

    def help(self, ctx: DialogContext) -> None:
        """Say what the bot can do and how to reach emergency services."""
        ctx.say(
            message(
                "help",
                ctx.language,
                options=self._options_text(ctx),
                emergency=self._emergency.label(ctx.language),
            ),
            suggestions=self._options(ctx.language),
        )

    def wants_handoff(self, ctx: DialogContext) -> bool:
        """Whether the input picks a care manager in the chat (and one can be asked for)."""
        labels = {normalise(label) for label in HANDOFF_LABEL.values()}
        return self.capabilities.handoff is not None and normalise(ctx.input.text) in labels

    def start_handoff(self, ctx: DialogContext) -> Step:
        """Ask the care team for a person in this chat."""
        assert self.capabilities.handoff is not None
        return StartChild(self.capabilities.handoff, Opening(ctx.input.text))

    def person(self, ctx: DialogContext) -> None:
        """Answer a request for a person: a care manager in the chat, a visit with a
        clinician, and the emergency number."""
        booking = self.capabilities.booking is not None
        if self.capabilities.handoff is not None:
            offers: tuple[str, ...] = (HANDOFF_LABEL[ctx.language],)
            if booking:
                offers += (CAPABILITY_LABELS["booking"][ctx.language],)
            emergency = self._emergency.label(ctx.language)
            ctx.say(message("person_live", ctx.language, emergency=emergency), suggestions=offers)
            return
        ctx.say(
            message(
                "person" if booking else "person_no_booking",
                ctx.language,
                emergency=self._emergency.label(ctx.language),
            ),
            suggestions=(CAPABILITY_LABELS["booking"][ctx.language],) if booking else (),
        )

    def start(self, ctx: DialogContext, capability: Capability, text: str = "") -> Step:
        """Start CAPABILITY, or say honestly that it is not available and offer the rest."""
        caps = self.capabilities
        if capability == "triage" and caps.triage is not None:
            return StartChild(caps.triage, Opening(text))
        if capability == "vitals" and caps.vitals is not None:
            return StartChild(caps.vitals, Opening(text))
        if capability == "visits" and caps.visits is not None:
            return StartChild(caps.visits, Opening(text))
        if capability == "booking" and caps.booking is not None:
            return StartChild(caps.booking, None)
        ctx.say(message(f"{capability}_unavailable", ctx.language))
        self.offer(ctx)
        return Done()

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """Route the input to a capability, or answer greeting, help and unknown input."""
        text = normalise(ctx.input.text)
        padded = f" {text} "
        if not text and not ctx.input.value:
            for reply in self.greeting(ctx.person):
                ctx.send(reply)
            return Done()
        if self.wants_handoff(ctx):
            return self.start_handoff(ctx)
        for capability in self.capabilities.offered():
            labels = {normalise(label) for label in CAPABILITY_LABELS[capability].values()}
            if text in labels or any(w in padded for w in CAPABILITY_WORDS[capability]):
                return self.start(ctx, capability, ctx.input.text)
        if text in LANGUAGE_WORDS and self.capabilities.language is not None:
            return StartChild(self.capabilities.language, Opening(ctx.input.text))
        if self.capabilities.triage is not None and mentions_symptom(ctx.assessments.words()):
            # "a bit breathless since this morning": the story itself starts a triage.
            return StartChild(self.capabilities.triage, Opening(ctx.input.text))
        named = capability_named(ctx.input.text)
        if named is not None:  # asked for by name, but not offered here
            return self.start(ctx, named)
        command = command_in(ctx.input.text)
        if not text and isinstance((ctx.input.value or {}).get("question"), str):
            # A button of an old question card, clicked after its triage ended.
            offer = message("offer", ctx.language, options=self._options_text(ctx))
            ctx.say(
                message("old_card", ctx.language, options=offer),
                suggestions=self._options(ctx.language),
            )
        elif text in GREETING_WORDS or text.split(" ")[0] in GREETING_WORDS:
            for reply in self.greeting(ctx.person):
                ctx.send(reply)
        elif command is Command.PERSON:
            self.person(ctx)
        elif command in (Command.HELP, Command.MENU):
            self.help(ctx)
        elif command is Command.CANCEL:  # nothing is under way: say what can be done
            self.offer(ctx)
        else:
            ctx.say(
                message("unknown", ctx.language, options=self._options_text(ctx)),
                suggestions=self._options(ctx.language),
            )
        return Done()

    async def resume(self, ctx: DialogContext) -> Step:
        """The menu never waits; a resumed menu starts over."""
        return await self.begin(ctx, Opening(ctx.input.text))

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """A capability finished: hand a consultation outcome on to booking when it exists
        (from triage, or from a triage the vitals review led into)."""
        outcome = triage_outcome_of(result)
        booking = self.capabilities.booking
        if booking is not None and outcome is not None and outcome.book:
            return StartChild(booking, outcome)
        return Done()
