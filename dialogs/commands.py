"""Recognises a whole message that is a command (cancel, menu, help) or names a capability
("my vitals", "prendre rendez-vous"): pure, on normalised words.

Only the whole message counts, after polite words ("please", "I want to", "je voudrais")
are set aside: "stop" is a command, "I can't stop coughing" is not, and neither is
"help, my chest hurts".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from dialogs.texts import CAPABILITY_LABELS, normalise

Capability = Literal["triage", "vitals", "visits", "booking"]
CAPABILITIES: tuple[Capability, ...] = ("triage", "vitals", "visits", "booking")


class Command(StrEnum):
    """What a person can say at any turn to take charge of the conversation."""

    CANCEL = "cancel"
    MENU = "menu"
    HELP = "help"
    PERSON = "person"  # "I want to talk to a nurse", "parler à quelqu'un"


# fmt: off
COMMAND_PHRASES: dict[Command, frozenset[str]] = {
    Command.CANCEL: frozenset(
        {"cancel", "stop", "quit", "exit", "never mind", "nevermind", "forget it", "cancel that",
         "stop that", "stop this", "stop it", "annuler", "annule", "annulez", "arrete", "arreter",
         "arretez", "stop ca", "laisse tomber", "laissez tomber", "on arrete", "abandonner"}
    ),
    Command.MENU: frozenset(
        {"menu", "main menu", "back to menu", "back to the menu", "go back to the menu", "home",
         "start over", "restart", "menu principal", "retour au menu", "retour", "accueil",
         "recommencer"}
    ),
    Command.HELP: frozenset(
        {"help", "help me", "aide", "aidez moi", "aide moi", "?", "what can you do", "options",
         "que pouvez vous faire", "que peux tu faire"}
    ),
    Command.PERSON: frozenset(
        {f"{verb} {who}" for verb in ("talk to", "speak to", "speak with", "talk with", "chat with")
         for who in ("a nurse", "the nurse", "a person", "a real person", "a human", "a real human",
                     "someone", "somebody", "someone real", "a human being", "a doctor",
                     "the care team", "my care team", "a clinician", "a live person", "an agent")}
        | {f"parler {who}" for who in ("a quelqu un", "a une infirmiere", "a un infirmier",
                                      "a une personne", "a une vraie personne", "a un humain",
                                      "a un medecin", "a l equipe soignante", "avec quelqu un")}
        | {"a nurse", "nurse", "a real person", "real person", "a human", "human", "a person",
           "someone real", "quelqu un", "une infirmiere", "un humain", "une vraie personne",
           "operator", "agent", "a live agent"}
    ),
}

CAPABILITY_PHRASES: dict[Capability, frozenset[str]] = {
    "triage": frozenset(
        {"check symptoms", "check my symptoms", "my symptoms", "symptoms", "symptom check",
         "mes symptomes", "verifier des symptomes", "verifier mes symptomes", "symptomes"}
    ),
    "vitals": frozenset(
        {"my vitals", "vitals", "my readings", "my measurements", "my vital signs",
         "mes constantes", "mes mesures", "constantes", "mes signes vitaux"}
    ),
    "visits": frozenset(
        {"my visits", "my appointments", "my appointment", "my visit", "upcoming visits",
         "mes rendez vous", "mes rdv", "mon rendez vous", "mes consultations"}
    ),
    "booking": frozenset(
        {"book a visit", "book a consultation", "book an appointment", "book a video visit",
         "an appointment", "appointment", "a visit", "make an appointment",
         "prendre rendez vous", "prendre un rendez vous", "un rendez vous", "rendez vous", "rdv",
         "reserver une consultation", "prendre une consultation"}
    ),
}
# fmt: on

# Words around a request that do not change it ("please show me my vitals").
_LEADING = frozenset(
    {"please", "ok", "okay", "actually", "just", "now", "i", "want", "wanna", "to", "would",
     "like", "d", "id", "can", "could", "you", "we", "let", "s", "lets", "go", "show", "me",
     "see", "check", "open", "view", "instead", "je", "veux", "voudrais", "aimerais", "peux",
     "pouvez", "vous", "on", "peut", "voir", "montre", "montrez", "moi", "afficher", "plutot",
     "en", "fait", "non", "no", "merci", "svp", "stp"}
)  # fmt: skip
_TRAILING = (
    ("s", "il", "vous", "plait"), ("s", "il", "te", "plait"), ("thank", "you"), ("please",),
    ("now",), ("thanks",), ("instead",), ("svp",), ("stp",), ("merci",), ("maintenant",),
    ("plutot",),
)  # fmt: skip


# A command or a capability's name, politely wrapped, is a few words; a longer message is a
# story (and is not worth scanning: the engine reads it).
MAX_WORDS = 12


def _core(text: str) -> str:
    if len(text) > MAX_WORDS * 24:
        return ""
    words = normalise(text).split()
    if len(words) > MAX_WORDS:
        return ""
    whole = " ".join(words)
    if _is_phrase(whole):
        return whole
    trimmed = True
    while trimmed:
        trimmed = False
        for tail in _TRAILING:
            if len(words) > len(tail) and tuple(words[-len(tail) :]) == tail:
                del words[-len(tail) :]
                trimmed = True
    # A phrase that itself starts with a polite word ("help me", "check symptoms") stays whole.
    while words and words[0] in _LEADING and not _is_phrase(" ".join(words)):
        words.pop(0)
    return " ".join(words) if words else whole


def _is_phrase(words: str) -> bool:
    return words in _ALL_PHRASES


_PHRASES: dict[Capability, frozenset[str]] = {
    c: CAPABILITY_PHRASES[c] | {normalise(label) for label in CAPABILITY_LABELS[c].values()}
    for c in CAPABILITIES
}
_ALL_PHRASES = frozenset().union(*COMMAND_PHRASES.values(), *_PHRASES.values())


def command_in(text: str) -> Command | None:
    """The command the whole of TEXT is ("cancel please", "annuler"), or None."""
    if text.strip() == "?":
        return Command.HELP
    core = _core(text)
    for command, phrases in COMMAND_PHRASES.items():
        if core in phrases:
            return command
    return None


def capability_named(text: str) -> Capability | None:
    """The capability the whole of TEXT asks for ("show me my vitals"), or None."""
    core = _core(text)
    for capability in CAPABILITIES:
        if core in _PHRASES[capability]:
            return capability
    return None
