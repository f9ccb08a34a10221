"""The alert as FHIR (pure): one Task per alert, one Communication per delivery.

Task: intent order, code `review`, `focus` the note/Flag/RiskAssessment, `for` the patient,
`owner` the care manager (none in the unassigned queue), status requested, then completed
on acknowledgement; escalation changes `owner` (each change is a version: the Task's
history records it) and marks it with an extension. Communication: `basedOn` the Task,
`recipient`, `medium` the channel, `sent`, status completed or, when the channel failed
for good, not-done (R4's event-status has no "failed") with the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.alerts.codes import (
    ALERT_IDENTIFIER,
    ALERT_KIND_SYSTEM,
    CHANNEL_SYSTEM,
    DELIVERY_IDENTIFIER,
    ESCALATED_EXTENSION,
    KIND_TEXT,
    REVIEW,
    TASK_CODE_SYSTEM,
    AlertKind,
    Channel,
)
from integrations.alerts.routing import Route
from integrations.alerts.rules import Alert

Json = dict[str, Any]
OPEN_STATUSES = ("requested", "accepted")


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_identifier(alert: Alert) -> str:
    """The Task's `identifier` search value (system|value)."""
    return f"{ALERT_IDENTIFIER}|{alert.version_reference}"


def task_for(alert: Alert, route: Route, now: datetime) -> Json:
    """The Task of ALERT, owned as ROUTE says."""
    task: Json = {
        "resourceType": "Task",
        "identifier": [{"system": ALERT_IDENTIFIER, "value": alert.version_reference}],
        "status": "requested",
        "intent": "order",
        "priority": "urgent" if alert.kind is not AlertKind.NOTE else "routine",
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": REVIEW, "display": "Review"}]},
        "reasonCode": {
            "coding": [
                {
                    "system": ALERT_KIND_SYSTEM,
                    "code": alert.kind.value,
                    "display": KIND_TEXT[alert.kind],
                }
            ]
        },
        "description": KIND_TEXT[alert.kind],
        "focus": {"reference": alert.focus},
        "for": {"reference": alert.patient},
        "authoredOn": _instant(now),
        "lastModified": _instant(now),
    }
    if route.owner:
        task["owner"] = {"reference": route.owner}
    if route.backup:
        task["restriction"] = {"recipient": [{"reference": route.backup}]}
    return task


def kind_of(task: Json) -> AlertKind | None:
    """The alert kind a Task carries."""
    for coding in (task.get("reasonCode") or {}).get("coding") or []:
        if coding.get("system") == ALERT_KIND_SYSTEM:
            try:
                return AlertKind(coding.get("code"))
            except ValueError:
                return None
    return None


def reference(task: Json, field: str) -> str | None:
    """The reference in TASK's FIELD (`focus`, `for`, `owner`)."""
    value = task.get(field)
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


def backup_of(task: Json) -> str | None:
    """The care manager TASK escalates to."""
    recipients = (task.get("restriction") or {}).get("recipient") or []
    ref = (recipients[0] or {}).get("reference") if recipients else None
    return ref if isinstance(ref, str) else None


def is_escalated(task: Json) -> bool:
    """True once TASK went to its backup."""
    return any(e.get("url") == ESCALATED_EXTENSION for e in task.get("extension") or [])


def acknowledged(task: Json, by: str, now: datetime) -> Json:
    """TASK acknowledged by BY (`Practitioner/id`): completed, owned by them."""
    done = {**task, "status": "completed", "lastModified": _instant(now)}
    done["owner"] = {"reference": by}
    return done


def escalated(task: Json, now: datetime) -> Json:
    """TASK handed to its backup, marked as escalated (the previous owner stays in history)."""
    backup = backup_of(task)
    if backup is None:
        raise ValueError("the Task has no backup to escalate to")
    moved = {**task, "owner": {"reference": backup}, "lastModified": _instant(now)}
    extensions = [e for e in task.get("extension") or [] if e.get("url") != ESCALATED_EXTENSION]
    moved["extension"] = [*extensions, {"url": ESCALATED_EXTENSION, "valueDateTime": _instant(now)}]
    return moved


def communication_for(
    task_id: str,
    patient: str,
    recipient: str | None,
    channel: Channel,
    key: str,
    now: datetime,
    *,
    failed: str | None = None,
) -> Json:
    """The Communication recording one delivery of Task TASK_ID (FAILED: why not)."""
    communication: Json = {
        "resourceType": "Communication",
        "identifier": [{"system": DELIVERY_IDENTIFIER, "value": key}],
        "basedOn": [{"reference": f"Task/{task_id}"}],
        "status": "not-done" if failed else "completed",
        "subject": {"reference": patient},
        "medium": [{"coding": [{"system": CHANNEL_SYSTEM, "code": channel.value}]}],
        "sent": _instant(now),
    }
    if recipient:
        communication["recipient"] = [{"reference": recipient}]
    if failed:
        communication["statusReason"] = {"text": failed}
    return communication


def patient_name(patient: Json | None) -> str:
    """The name to show for PATIENT: given and family of its first name."""
    for name in (patient or {}).get("name") or []:
        parts = [*(name.get("given") or []), name.get("family") or ""]
        text = " ".join(p for p in parts if p).strip() or name.get("text")
        if text:
            return str(text)
    return "Unnamed patient"
