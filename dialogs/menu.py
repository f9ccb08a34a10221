"""The root dialog: greets, offers what the bot can do, answers help and unknown input."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dialogs.base import JSON, DialogContext, Done, Language, StartChild, Step
from dialogs.texts import CAPABILITY_LABELS, message, normalise
from dialogs.triage.advice import EmergencyNumbers

GREETING_WORDS = frozenset({"hello", "hi", "hey", "bonjour", "salut", "bonsoir", "coucou", "start"})
HELP_WORDS = frozenset({"help", "aide", "menu", "options", "?", "aidez moi"})
LANGUAGE_WORDS = frozenset({"language", "langue", "change language", "changer de langue"})

SymptomDetector = Callable[[str, Language], bool]

# Patient words for each capability, matched on normalised text.
CAPABILITY_WORDS: dict[str, tuple[str, ...]] = {
    "triage": ("check symptoms", "symptom", "i feel", "sick", "pain", "symptome", "malade", "mal "),
    "vitals": ("my vitals", "vitals", "readings", "mes constantes", "constantes", "mesures"),
    "booking": ("book", "appointment", "visit", "rendez vous", "rdv", "consultation"),
}


class MenuDialog:
    """Root of every conversation: routes to the capabilities that are registered."""

    name = "menu"

    def __init__(
        self,
        capabilities: Sequence[str],
        emergency: EmergencyNumbers,
        mentions_symptom: SymptomDetector | None = None,
    ) -> None:
        self._capabilities = [c for c in CAPABILITY_LABELS if c in capabilities]
        self._emergency = emergency
        self._mentions_symptom = mentions_symptom

    def _options(self, ctx: DialogContext) -> tuple[str, ...]:
        return tuple(CAPABILITY_LABELS[c][ctx.language] for c in self._capabilities)

    def _options_text(self, ctx: DialogContext) -> str:
        options = self._options(ctx)
        if len(options) <= 1:
            return "".join(options)
        return f"{', '.join(options[:-1])} {message('or', ctx.language)} {options[-1]}"

    def greet(self, ctx: DialogContext) -> None:
        """Greet the person by name and offer the capabilities."""
        first_name = ctx.person.display_name.split(" ")[0] or ctx.person.display_name
        ctx.say(message("greeting", ctx.language, name=first_name))
        ctx.say(
            message("offer", ctx.language, options=self._options_text(ctx)),
            suggestions=self._options(ctx),
        )

    async def begin(self, ctx: DialogContext, args: Mapping[str, JSON]) -> Step:
        """Route the input to a capability, or answer greeting, help and unknown input."""
        text = normalise(ctx.input.text)
        padded = f" {text} "
        if not text and not ctx.input.value:
            self.greet(ctx)
            return Done()
        for capability in self._capabilities:
            labels = {normalise(label) for label in CAPABILITY_LABELS[capability].values()}
            if text in labels or any(w in padded for w in CAPABILITY_WORDS[capability]):
                return StartChild(capability, {"text": ctx.input.text})
        if text in LANGUAGE_WORDS:
            return StartChild("language")
        if (
            "triage" in self._capabilities
            and self._mentions_symptom is not None
            and self._mentions_symptom(ctx.input.text, ctx.language)
        ):
            # "a bit breathless since this morning": the story itself starts a triage.
            return StartChild("triage", {"text": ctx.input.text})
        if text in GREETING_WORDS or text.split(" ")[0] in GREETING_WORDS:
            self.greet(ctx)
        elif text in HELP_WORDS:
            ctx.say(
                message(
                    "help",
                    ctx.language,
                    options=self._options_text(ctx),
                    emergency=self._emergency.label(ctx.language),
                ),
                suggestions=self._options(ctx),
            )
        else:
            ctx.say(
                message("unknown", ctx.language, options=self._options_text(ctx)),
                suggestions=self._options(ctx),
            )
        return Done()

    async def resume(self, ctx: DialogContext) -> Step:
        """The menu never waits; a resumed menu starts over."""
        return await self.begin(ctx, {})

    async def on_child_done(
        self, ctx: DialogContext, child: str, result: Mapping[str, JSON]
    ) -> Step:
        """A capability finished: hand a consultation outcome on to booking when it exists
        (from triage, or from a triage the vitals review led into)."""
        if "booking" in self._capabilities and result.get("book"):
            return StartChild("booking", result)
        return Done()
