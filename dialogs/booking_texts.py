"""What the booking, intake, consent and "my visits" dialogs say, in English and French."""

from __future__ import annotations

from dialogs.base import Language

BOOKING_MESSAGES: dict[str, dict[Language, str]] = {
    "no_patient": {
        "en": "Booking a visit needs a patient account. Please sign in to the portal as a patient.",
        "fr": "La prise de rendez-vous demande un compte patient. Connectez-vous au portail en tant que patient.",
    },
    "offer": {
        "en": 'Here are the free times for a video visit ({zone} time). Pick one, or type a day and time such as "tomorrow afternoon".',
        "fr": "Voici les créneaux libres pour une téléconsultation (heure de {zone}). Choisissez-en un, ou tapez un jour et une heure, par exemple « demain matin ».",
    },
    "offer_urgent": {
        "en": "You should be seen within {hours} hours. Here are the free times in that window ({zone} time):",
        "fr": "Vous devriez être vu dans les {hours} heures. Voici les créneaux libres dans ce délai (heure de {zone}) :",
    },
    "none_in_window_earliest": {
        "en": "No clinician is free within the next {hours} hours. The earliest free time is below ({zone} time).",
        "fr": "Aucun soignant n'est libre dans les {hours} prochaines heures. Le premier créneau libre est ci-dessous (heure de {zone}).",
    },
    "none_in_window_urgent": {
        "en": "No clinician is free for a video visit within the next {hours} hours, and you should not wait longer. Please go to urgent care today, or call {emergency} if you get worse.",
        "fr": "Aucun soignant n'est libre en vidéo dans les {hours} prochaines heures, et vous ne devriez pas attendre plus. Allez aujourd'hui dans un service de soins non programmés, ou appelez le {emergency} si votre état s'aggrave.",
    },
    "none_at_all": {
        "en": "Sorry, no clinician has a free time for a video visit at the moment. Please contact your clinic.",
        "fr": "Désolé, aucun soignant n'a de créneau libre en vidéo pour le moment. Contactez votre cabinet.",
    },
    "none_then": {
        "en": "No free time matches that. Here are the free times I have:",
        "fr": "Aucun créneau libre ne correspond. Voici les créneaux libres :",
    },
    "pick_again": {
        "en": 'Please pick one of the times, or type a day and time such as "friday 2pm".',
        "fr": "Choisissez l'un des créneaux, ou tapez un jour et une heure, par exemple « vendredi 14h ».",
    },
    "taken": {
        "en": "Sorry, that time was just taken by someone else. Here are the next free times:",
        "fr": "Désolé, ce créneau vient d'être pris par quelqu'un d'autre. Voici les suivants :",
    },
    "unavailable": {
        "en": "Sorry, the booking system is not answering right now, so nothing was booked and no time is held for you. Please try again in a few minutes.",
        "fr": "Désolé, le système de rendez-vous ne répond pas pour le moment : rien n'a été réservé et aucun créneau n'est retenu pour vous. Veuillez réessayer dans quelques minutes.",
    },
    "held": {
        "en": "I'm holding {slot} for you for {minutes} minutes.",
        "fr": "Je vous réserve {slot} pendant {minutes} minutes.",
    },
    "contact": {
        "en": "Your contact details on record:\nEmail: {email}\nPhone: {phone}\nAddress: {address}\nAre they right?",
        "fr": "Vos coordonnées enregistrées :\nCourriel : {email}\nTéléphone : {phone}\nAdresse : {address}\nSont-elles exactes ?",
    },
    "contact_ask": {
        "en": "Type your new email address or phone number.",
        "fr": "Tapez votre nouvelle adresse de courriel ou votre nouveau numéro de téléphone.",
    },
    "contact_bad": {
        "en": "That is not an email address or a phone number. Please type one, e.g. name@example.org or +1 555 123 4567.",
        "fr": "Ce n'est ni une adresse de courriel ni un numéro de téléphone. Tapez-en un, par exemple nom@exemple.fr ou 06 12 34 56 78.",
    },
    "yes_no": {
        "en": "Please answer yes or change.",
        "fr": "Répondez oui ou modifier.",
    },
    "coverage": {
        "en": "Insurance on file: {payer}, member id ending {last}. Use this insurance, or pay yourself?",
        "fr": "Assurance enregistrée : {payer}, numéro d'adhérent finissant par {last}. Utiliser cette assurance, ou payer vous-même ?",
    },
    "no_coverage": {
        "en": "You have no insurance on file, so this visit is self-pay.",
        "fr": "Aucune assurance n'est enregistrée : cette consultation est à votre charge.",
    },
    "coverage_again": {
        "en": 'Please answer "insurance" or "self-pay".',
        "fr": "Répondez « assurance » ou « à ma charge ».",
    },
    "payment_on_file": {
        "en": "Payment method on file: {kind}. Use it?",
        "fr": "Moyen de paiement enregistré : {kind}. L'utiliser ?",
    },
    "payment_ask": {
        "en": "How will you pay: card, bank transfer or cash?",
        "fr": "Comment paierez-vous : carte, virement ou espèces ?",
    },
    "consent_intro": {
        "en": "Before I book, please read and sign the consent:",
        "fr": "Avant de réserver, lisez et signez le consentement :",
    },
    "consent_again": {
        "en": 'To sign, type your full name as on your record ({name}). To refuse, type "no".',
        "fr": "Pour signer, tapez votre nom complet tel qu'enregistré ({name}). Pour refuser, tapez « non ».",
    },
    "refused": {
        "en": "All right, I have not booked the visit and released the time. Your refusal is recorded and the clinician is told. You can book again whenever you wish.",
        "fr": "Très bien, je n'ai pas réservé et j'ai libéré le créneau. Votre refus est enregistré et le soignant est prévenu. Vous pouvez reprendre rendez-vous quand vous voulez.",
    },
    "booked": {
        "en": "Your video visit with {provider} is booked for {slot}.\nJoin here when it is time: {url}",
        "fr": "Votre téléconsultation avec {provider} est réservée le {slot}.\nRejoignez-la ici le moment venu : {url}",
    },
    "link_later": {
        "en": 'Your visit is booked, but the video service did not give the join link just now. Say "my visits" a little before the visit to get it; the reminder will carry it too.',
        "fr": "Votre rendez-vous est réservé, mais le service vidéo n'a pas donné le lien pour le moment. Dites « mes rendez-vous » un peu avant la consultation pour l'avoir ; le rappel le contiendra aussi.",
    },
    "visit_link_later": {
        "en": "   (the video service did not give the join link just now: ask again in a moment)",
        "fr": "   (le service vidéo n'a pas donné le lien pour le moment : redemandez dans un instant)",
    },
    "mail_sent": {
        "en": "A confirmation with a calendar invitation was sent to {email}.",
        "fr": "Une confirmation avec une invitation d'agenda a été envoyée à {email}.",
    },
    "no_visits": {
        "en": "You have no upcoming visits.",
        "fr": "Vous n'avez aucun rendez-vous à venir.",
    },
    "visits": {
        "en": "Your upcoming visits:",
        "fr": "Vos prochains rendez-vous :",
    },
    "visit_line": {"en": "{n}. {slot}", "fr": "{n}. {slot}"},
    "visit_link": {"en": "   Join: {url}", "fr": "   Rejoindre : {url}"},
    "visit_no_link": {
        "en": "   (the join link appears once you have signed the consent)",
        "fr": "   (le lien apparaît une fois le consentement signé)",
    },
    "visits_pick": {
        "en": 'To change one, say "cancel 1" or "reschedule 1".',
        "fr": "Pour en changer un, dites « annuler 1 » ou « déplacer 1 ».",
    },
    "cancelled_visit": {
        "en": "Your visit on {slot} is cancelled and the time is free again. A mail was sent to you and to {provider}.",
        "fr": "Votre rendez-vous du {slot} est annulé et le créneau est libéré. Un courriel vous a été envoyé, ainsi qu'à {provider}.",
    },
    "rescheduled": {
        "en": "Your visit is moved to {slot} with {provider}; the old time is free again.\nJoin here when it is time: {url}",
        "fr": "Votre rendez-vous est déplacé au {slot} avec {provider} ; l'ancien créneau est libéré.\nRejoignez-le ici le moment venu : {url}",
    },
}

WORDS: dict[str, dict[Language, tuple[str, ...]]] = {
    "yes": {"en": ("yes", "y", "yes please", "right", "correct", "ok", "okay", "use it", "yes use it"),
            "fr": ("oui", "o", "exact", "exactes", "correct", "ok", "d accord", "oui utiliser")},
    "change": {"en": ("change", "edit", "no", "wrong", "update"),
               "fr": ("modifier", "changer", "non", "faux", "mettre a jour")},
    "insurance": {"en": ("insurance", "use my insurance", "use insurance", "use this insurance"),
                  "fr": ("assurance", "utiliser mon assurance", "utiliser cette assurance")},
    "self_pay": {"en": ("self pay", "self-pay", "pay myself", "i pay", "myself"),
                 "fr": ("a ma charge", "moi meme", "je paie", "payer moi meme")},
    "refuse": {"en": ("no", "i refuse", "refuse", "i do not agree", "i don t agree", "decline"),
               "fr": ("non", "je refuse", "refuser", "je ne suis pas d accord", "refus")},
    "later": {"en": ("later", "later times", "more", "other times"),
              "fr": ("plus tard", "autres creneaux", "autres", "plus")},
    "card": {"en": ("card", "credit card", "debit card"), "fr": ("carte", "carte bancaire", "cb")},
    "bank-transfer": {"en": ("bank transfer", "transfer"), "fr": ("virement", "virement bancaire")},
    "cash": {"en": ("cash",), "fr": ("especes", "liquide")},
}  # fmt: skip

SUGGESTIONS: dict[str, dict[Language, tuple[str, ...]]] = {
    "contact": {"en": ("yes", "change"), "fr": ("oui", "modifier")},
    "coverage": {"en": ("use my insurance", "self-pay"), "fr": ("utiliser mon assurance", "à ma charge")},
    "payment_on_file": {"en": ("yes", "change"), "fr": ("oui", "modifier")},
    "payment": {"en": ("card", "bank transfer", "cash"), "fr": ("carte", "virement", "espèces")},
    "later": {"en": ("later",), "fr": ("plus tard",)},
}  # fmt: skip

PAYMENT_NAMES: dict[str, dict[Language, str]] = {
    "card": {"en": "card", "fr": "carte"},
    "bank-transfer": {"en": "bank transfer", "fr": "virement"},
    "cash": {"en": "cash", "fr": "espèces"},
}


def say(key: str, language: Language, **values: str) -> str:
    """The booking message KEY in LANGUAGE, with VALUES filled in."""
    return BOOKING_MESSAGES[key][language].format(**values)


def is_word(kind: str, words: str, language: Language) -> bool:
    """True when normalised WORDS are one of KIND's words (either language is accepted)."""
    table = WORDS[kind]
    return words in table[language] or words in table["en" if language == "fr" else "fr"]
