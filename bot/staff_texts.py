"""The words of the staff pages, in English and French (one table, looked up by key)."""

from __future__ import annotations

from dialogs.base import Language

TEXTS: dict[str, dict[Language, str]] = {
    "queue": {"en": "Today's visits", "fr": "Consultations du jour"},
    "visits_on": {"en": "Visits on", "fr": "Consultations du"},
    "day": {"en": "Day", "fr": "Jour"},
    "show": {"en": "Show", "fr": "Afficher"},
    "time": {"en": "Time", "fr": "Heure"},
    "patient": {"en": "Patient", "fr": "Patient"},
    "status": {"en": "Status", "fr": "Statut"},
    "summary": {"en": "Summary", "fr": "Résumé"},
    "open_summary": {"en": "Open summary", "fr": "Ouvrir le résumé"},
    "no_visits": {"en": "No visits on this day.", "fr": "Aucune consultation ce jour-là."},
    "intake_pending": {"en": "Intake pending", "fr": "Accueil en attente"},
    "consent_signed": {"en": "Consent signed", "fr": "Consentement signé"},
    "joined": {"en": "Joined", "fr": "Rejointe"},
    "done": {"en": "Done", "fr": "Terminée"},
    "cancelled": {"en": "Cancelled", "fr": "Annulée"},
    "visit_with": {"en": "Visit with", "fr": "Consultation avec"},
    "back_to_queue": {"en": "Back to the queue", "fr": "Retour à la liste"},
    "triage": {"en": "Triage", "fr": "Triage"},
    "no_triage": {"en": "No triage on record.", "fr": "Aucun triage enregistré."},
    "level": {"en": "Level", "fr": "Niveau"},
    "reasons": {"en": "Reasons", "fr": "Raisons"},
    "answers": {"en": "Interview answers", "fr": "Réponses à l'entretien"},
    "question": {"en": "Question", "fr": "Question"},
    "answer": {"en": "Answer", "fr": "Réponse"},
    "vitals": {"en": "Device vitals, last 7 days", "fr": "Mesures des appareils, 7 derniers jours"},
    "latest": {"en": "Latest readings", "fr": "Dernières mesures"},
    "no_vitals": {"en": "No device readings in 7 days.", "fr": "Aucune mesure en 7 jours."},
    "chart_label": {
        "en": "Charts of the device vitals over the last 7 days",
        "fr": "Courbes des mesures des 7 derniers jours",
    },
    "risk": {"en": "Risk", "fr": "Risque"},
    "no_risk": {"en": "No risk score yet.", "fr": "Pas encore de score de risque."},
    "model_risk": {"en": "Model risk", "fr": "Risque du modèle"},
    "news2": {"en": "NEWS2", "fr": "NEWS2"},
    "flags": {"en": "Active flags", "fr": "Alertes actives"},
    "no_flags": {"en": "No active flag.", "fr": "Aucune alerte active."},
    "consent_insurance": {"en": "Consent and insurance", "fr": "Consentement et assurance"},
    "consent": {"en": "Consent", "fr": "Consentement"},
    "consent_active": {"en": "Active", "fr": "Actif"},
    "consent_missing": {"en": "Not signed", "fr": "Non signé"},
    "insurance": {"en": "Insurance", "fr": "Assurance"},
    "no_insurance": {"en": "None on file", "fr": "Aucune enregistrée"},
    "join": {"en": "Join the visit", "fr": "Rejoindre la consultation"},
    "no_join": {
        "en": "The join link appears once the patient's consent is active.",
        "fr": "Le lien apparaît quand le consentement du patient est actif.",
    },
    "notes": {"en": "Notes", "fr": "Notes"},
    "no_notes": {"en": "No notes yet.", "fr": "Pas encore de note."},
    "add_note": {"en": "Add note", "fr": "Ajouter une note"},
    "note_text": {"en": "Progress note", "fr": "Note d'évolution"},
    "note_saved": {"en": "Note saved.", "fr": "Note enregistrée."},
    "note_empty": {"en": "Write the note first.", "fr": "Écrivez d'abord la note."},
    "sign_out": {"en": "Sign out", "fr": "Se déconnecter"},
    "staff_nav": {"en": "Staff pages", "fr": "Pages du personnel"},
    "audit": {"en": "Audit log", "fr": "Journal d'audit"},
    "patients": {"en": "My patients", "fr": "Mes patients"},
    "alerts": {"en": "Alerts", "fr": "Alertes"},
}


def t(key: str, language: Language) -> str:
    """KEY's words in LANGUAGE."""
    return TEXTS[key][language]
