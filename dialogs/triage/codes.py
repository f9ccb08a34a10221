"""carebot's own FHIR code systems and identifiers for triage.

The base URL is the one carebot uses for all its code systems (`gateway.codes`
CAREBOT_BASE_URL); dialogs may not import gateway, so it is repeated here until it moves
to a shared module under `integrations/`.
"""

from __future__ import annotations

CAREBOT_BASE_URL = "https://carebot.example.org/fhir"
TRIAGE_LEVEL_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/triage-level"
TRIAGE_INTERVIEW_QUESTIONNAIRE = f"{CAREBOT_BASE_URL}/Questionnaire/triage-interview"
INTERVIEW_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/triage-interview"
TRIAGE_METHOD_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/triage-method"
