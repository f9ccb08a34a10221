"""The codes and identifier systems of care-manager alerts, defined once."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from integrations.codes import CAREBOT_BASE_URL

LOINC: Final = "http://loinc.org"
TASK_CODE_SYSTEM: Final = f"{CAREBOT_BASE_URL}/CodeSystem/task-code"
REVIEW: Final = "review"
"""Task.code of every alert: a care manager is asked to review what happened."""
ALERT_IDENTIFIER: Final = f"{CAREBOT_BASE_URL}/identifier/alert"
"""Task.identifier: the version that raised it (`DocumentReference/x/_history/1`)."""
DELIVERY_IDENTIFIER: Final = f"{CAREBOT_BASE_URL}/identifier/alert-delivery"
"""Communication.identifier: the outbox key of the delivery."""
ALERT_KIND_SYSTEM: Final = f"{CAREBOT_BASE_URL}/CodeSystem/alert-kind"
CHANNEL_SYSTEM: Final = f"{CAREBOT_BASE_URL}/CodeSystem/alert-channel"
CARE_TEAM_ROLE_SYSTEM: Final = f"{CAREBOT_BASE_URL}/CodeSystem/care-team-role"
CARE_MANAGER_ROLE: Final = "care-manager"
"""CareTeam.participant.role of the member who gets the team's alerts."""
BACKUP_CARE_MANAGER_ROLE: Final = "backup-care-manager"
"""CareTeam.participant.role of the member alerts escalate to."""
ESCALATED_EXTENSION: Final = f"{CAREBOT_BASE_URL}/StructureDefinition/alert-escalated"
RISK_PROBABILITY: Final = "http://terminology.hl7.org/CodeSystem/risk-probability"

# Clinical-note types (LOINC document ontology): a new DocumentReference of one is an alert.
NOTE_TYPES: Final = frozenset(
    {
        "11506-3",  # Progress note
        "34109-9",  # Note
        "11488-4",  # Consult note
        "18842-5",  # Discharge summary
        "34117-2",  # History and physical note
        "28570-0",  # Procedure note
    }
)


class AlertKind(StrEnum):
    """What happened."""

    NOTE = "note"
    FLAG = "flag"
    RISK = "risk"


KIND_TEXT: Final = {
    AlertKind.NOTE: "New clinical note",
    AlertKind.FLAG: "Risk flag raised",
    AlertKind.RISK: "High-risk assessment",
}


class Channel(StrEnum):
    """Where a delivery goes (Communication.medium)."""

    INBOX = "inbox"
    TEAMS = "teams"
    MAIL = "mail"


UNASSIGNED: Final = "queue"
"""The recipient of alerts no care manager owns: the queue every care manager sees."""

ACK_ACTION: Final = "carebot.alert.ack"
"""An alert card's Acknowledge submit: `{"action": ACK_ACTION, "task": "Task/id"}`."""
