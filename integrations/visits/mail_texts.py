"""The words of visit mails, in English and French, with times in the reader's zone (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Language = Literal["en", "fr"]
Kind = Literal["confirmed", "cancelled", "reminder", "refused"]

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
}  # fmt: skip

SUBJECTS: dict[Kind, dict[Language, str]] = {
    "confirmed": {"en": "Your virtual visit on {when}", "fr": "Votre téléconsultation du {when}"},
    "cancelled": {"en": "Cancelled: virtual visit on {when}",
                  "fr": "Annulée : téléconsultation du {when}"},
    "reminder": {"en": "Reminder: virtual visit on {when}",
                 "fr": "Rappel : téléconsultation du {when}"},
    "refused": {"en": "Not booked: consent refused for {when}",
                "fr": "Non réservée : consentement refusé pour le {when}"},
}  # fmt: skip

BODIES: dict[Kind, dict[Language, str]] = {
    "confirmed": {
        "en": "Your virtual visit with {other} is booked for {when}.\n{link}",
        "fr": "Votre téléconsultation avec {other} est réservée le {when}.\n{link}",
    },
    "cancelled": {
        "en": "The virtual visit with {other} on {when} is cancelled.",
        "fr": "La téléconsultation avec {other} du {when} est annulée.",
    },
    "refused": {
        "en": "{other} refused the consent to a virtual visit; the time {when} was not booked.",
        "fr": "{other} a refusé le consentement à la téléconsultation ; le créneau du {when} n'a pas été réservé.",
    },
    "reminder": {
        "en": "Reminder: your virtual visit with {other} is on {when}.\n{link}",
        "fr": "Rappel : votre téléconsultation avec {other} a lieu le {when}.\n{link}",
    },
}
JOIN = {"en": "Join the visit: {url}", "fr": "Rejoindre la consultation : {url}"}
NO_LINK: dict[Language, str] = {
    "en": 'The join link could not be fetched just now. Say "my visits" in the chat a little '
          "before the visit to get it.",
    "fr": "Le lien de connexion n'a pas pu être obtenu pour le moment. Dites « mes rendez-vous » "
          "dans la conversation un peu avant la consultation pour l'avoir.",
}  # fmt: skip


def spoken_time(moment: datetime, zone: str, language: Language) -> str:
    """MOMENT in ZONE, spelled for LANGUAGE: "Friday 11 December 2026, 14:00 (Europe/Paris)"."""
    local = moment.astimezone(ZoneInfo(zone))
    day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
    return f"{day} {local.day} {month} {local.year}, {local:%H:%M} ({zone})"


def mail_text(
    kind: Kind, language: Language, *, other: str, when: str, url: str | None
) -> tuple[str, str]:
    """The subject and body of a visit mail; the join line only when URL is given."""
    link = JOIN[language].format(url=url) if url else ""
    subject = SUBJECTS[kind][language].format(when=when)
    return subject, BODIES[kind][language].format(other=other, when=when, link=link).strip()
