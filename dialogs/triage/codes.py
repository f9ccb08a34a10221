"""carebot's own FHIR code systems and identifiers for triage.

The base URL is carebot's one base for its own code systems (`integrations.codes`).
"""

from __future__ import annotations

from integrations.codes import CAREBOT_BASE_URL

TRIAGE_LEVEL_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/triage-level"
TRIAGE_INTERVIEW_QUESTIONNAIRE = f"{CAREBOT_BASE_URL}/Questionnaire/triage-interview"
INTERVIEW_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/triage-interview"
TRIAGE_METHOD_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/triage-method"
