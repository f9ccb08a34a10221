"""Words the bot says, in English and French, and the patient words it recognises."""

from __future__ import annotations

import re
import unicodedata

from dialogs.base import Language

SUPPORTED_LANGUAGES: tuple[Language, ...] = ("en", "fr")

MESSAGES: dict[str, dict[Language, str]] = {
    "greeting": {
        "en": "Hello {name}! I'm your care assistant.",
        "fr": "Bonjour {name} ! Je suis votre assistant de soins.",
    },
    "offer": {
        "en": "I can help you: {options}. What would you like to do?",
        "fr": "Je peux vous aider : {options}. Que souhaitez-vous faire ?",
    },
    "help": {
        "en": (
            "Here is what I can do: {options}. Type one of them or pick a button. "
            'Say "language" to change the language. '
            "If you think it is an emergency, call {emergency} now."
        ),
        "fr": (
            "Voici ce que je peux faire : {options}. Écrivez l'un d'eux ou choisissez un bouton. "
            "Dites « langue » pour changer de langue. "
            "Si vous pensez que c'est une urgence, appelez le {emergency} maintenant."
        ),
    },
    "person": {
        "en": (
            "I can't put you through to a person in this chat yet. A clinician can see you at a "
            'video visit: say "book a visit". If you think it is an emergency, call {emergency} now.'
        ),
        "fr": (
            "Je ne peux pas encore vous mettre en relation avec une personne dans ce chat. Un "
            "soignant peut vous voir en téléconsultation : dites « prendre rendez-vous ». Si vous "
            "pensez que c'est une urgence, appelez le {emergency} maintenant."
        ),
    },
    "person_live": {
        "en": (
            "A care manager can join this chat, or a clinician can see you at a video visit. "
            "If you think it is an emergency, call {emergency} now."
        ),
        "fr": (
            "Un soignant peut rejoindre cette conversation, ou un médecin peut vous voir en "
            "téléconsultation. Si vous pensez que c'est une urgence, appelez le {emergency} "
            "maintenant."
        ),
    },
    "handoff_waiting": {
        "en": (
            "I've asked the care team: a care manager will join this chat as soon as one is "
            'free. You can keep writing here, they will see it. Say "cancel" to stop waiting. '
            "If you think it is an emergency, call {emergency} now."
        ),
        "fr": (
            "J'ai prévenu l'équipe soignante : un soignant rejoindra cette conversation dès que "
            "possible. Vous pouvez continuer à écrire ici, il le verra. Dites « annuler » pour ne "
            "plus attendre. Si vous pensez que c'est une urgence, appelez le {emergency} maintenant."
        ),
    },
    "handoff_no_record": {
        "en": "I can only put patients with a record at the clinic through to the care team.",
        "fr": "Je ne peux mettre en relation avec l'équipe soignante que les patients suivis "
        "par le cabinet.",
    },
    "handoff_withdrawn": {
        "en": "All right, I've told the care team you no longer need them to join.",
        "fr": "D'accord, j'ai prévenu l'équipe soignante que vous n'avez plus besoin d'elle.",
    },
    "handoff_over": {
        "en": "You are back with the care assistant.",
        "fr": "Vous êtes de nouveau avec l'assistant de soins.",
    },
    "person_no_booking": {
        "en": (
            "I can't put you through to a person in this chat yet: please call your clinic. "
            "If you think it is an emergency, call {emergency} now."
        ),
        "fr": (
            "Je ne peux pas encore vous mettre en relation avec une personne dans ce chat : "
            "appelez votre cabinet. Si vous pensez que c'est une urgence, appelez le {emergency} "
            "maintenant."
        ),
    },
    "old_card": {
        "en": "That answer was for a check that has already finished. {options}",
        "fr": "Cette réponse concernait une vérification déjà terminée. {options}",
    },
    "unknown": {
        "en": 'Sorry, I didn\'t understand that. You can say: {options}, or "help".',
        "fr": "Désolé, je n'ai pas compris. Vous pouvez dire : {options}, ou « aide ».",
    },
    "language_ask": {
        "en": "Which language would you like: English or French?",
        "fr": "Quelle langue préférez-vous : anglais ou français ?",
    },
    "language_set": {
        "en": "All right, I'll speak English from now on.",
        "fr": "Très bien, je vous parlerai en français désormais.",
    },
    "language_again": {
        "en": "Please choose English or French.",
        "fr": "Veuillez choisir anglais ou français.",
    },
    "or": {"en": "or", "fr": "ou"},
    "cancelled": {
        "en": "All right, I have stopped that.",
        "fr": "Très bien, j'ai arrêté.",
    },
    "help_midway": {
        "en": 'To go on, answer my last question. Say "cancel" to stop, or "menu" to start over.',
        "fr": "Pour continuer, répondez à ma dernière question. Dites « annuler » pour arrêter, ou « menu » pour recommencer.",
    },
    "booking_unavailable": {
        "en": "Booking a visit through me is coming, but it is not available yet. Please contact your clinic to book.",
        "fr": "La prise de rendez-vous avec moi arrive bientôt, mais elle n'est pas encore disponible. Contactez votre cabinet pour prendre rendez-vous.",
    },
    "visits_unavailable": {
        "en": "Your visits cannot be shown here. Please contact your clinic.",
        "fr": "Vos rendez-vous ne peuvent pas être affichés ici. Contactez votre cabinet.",
    },
    "triage_unavailable": {
        "en": "Checking symptoms is not available here.",
        "fr": "La vérification des symptômes n'est pas disponible ici.",
    },
    "vitals_unavailable": {
        "en": "Showing your device readings is not available here.",
        "fr": "L'affichage des mesures de vos appareils n'est pas disponible ici.",
    },
}

CAPABILITY_LABELS: dict[str, dict[Language, str]] = {
    "triage": {"en": "check symptoms", "fr": "vérifier des symptômes"},
    "vitals": {"en": "my vitals", "fr": "mes constantes"},
    "booking": {"en": "book a visit", "fr": "prendre rendez-vous"},
    "visits": {"en": "my visits", "fr": "mes rendez-vous"},
}

# the suggestion that asks for a care manager in the chat (not a menu capability: offered
# only when a person is asked for)
HANDOFF_LABEL: dict[Language, str] = {"en": "a care manager in this chat",
                                      "fr": "un soignant dans le chat"}  # fmt: skip

LANGUAGE_WORDS: dict[Language, tuple[str, ...]] = {
    "en": ("english", "anglais"),
    "fr": ("french", "francais"),
}


def message(key: str, language: Language, **values: str) -> str:
    """The message KEY in LANGUAGE, with VALUES filled in."""
    return MESSAGES[key][language].format(**values)


def normalise(text: str) -> str:
    """Lower-case, accents removed, punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9%./]+", " ", plain).strip()


def language_from_locale(locale: str | None) -> Language | None:
    """The supported language of a locale like 'fr-CA', or None."""
    if not locale:
        return None
    code = locale.split("-")[0].split("_")[0].lower()
    for language in SUPPORTED_LANGUAGES:
        if code == language:
            return language
    return None
