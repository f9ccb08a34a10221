"""Acknowledging an alert, from the inbox or a Teams card alike: the Task is completed and
owned by the care manager who acknowledged it (taking an unassigned one makes it theirs),
which stops its escalation. A care manager acknowledges only alerts of their own patients
(read through their own FHIR client: audited) or of the unassigned queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum

from integrations.accounts import Account, Role
from integrations.alerts.codes import REVIEW, TASK_CODE_SYSTEM
from integrations.alerts.resources import OPEN_STATUSES, acknowledged, reference
from integrations.fhir.access import FhirAccess
from integrations.fhir.errors import FhirError


class Acknowledged(Enum):
    """What an acknowledgement did."""

    DONE = "done"
    ALREADY = "already"
    """Closed before (by someone else, or the same care manager twice)."""
    NOT_FOUND = "not-found"
    """No such alert, or not one this care manager may see."""


def _now() -> datetime:
    return datetime.now(UTC)


def _is_alert(task: object) -> bool:
    if not isinstance(task, dict):
        return False
    codings = (task.get("code") or {}).get("coding") or []
    return any(c.get("system") == TASK_CODE_SYSTEM and c.get("code") == REVIEW for c in codings)


class AlertAcks:
    """Acknowledges alerts for care managers."""

    def __init__(self, fhir: FhirAccess, clock: Callable[[], datetime] = _now) -> None:
        self._fhir = fhir
        self._clock = clock

    async def acknowledge(self, task_id: str, account: Account) -> Acknowledged:
        """Acknowledge Task TASK_ID for ACCOUNT (a care manager)."""
        if account.role is not Role.CARE_MANAGER or not account.fhir_reference:
            return Acknowledged.NOT_FOUND
        if not task_id or "/" in task_id:
            return Acknowledged.NOT_FOUND
        system = self._fhir.system()
        try:
            _, task = await system.request_json("GET", f"Task/{task_id}")
        except FhirError:
            return Acknowledged.NOT_FOUND
        if task is None or not _is_alert(task):
            return Acknowledged.NOT_FOUND
        if reference(task, "owner") is not None:
            staff = self._fhir.for_staff(account.fhir_reference, person=account.id)
            try:  # their own read: their patients only, audited
                await staff.request_json("GET", f"Task/{task_id}")
            except FhirError:
                return Acknowledged.NOT_FOUND
        if task.get("status") not in OPEN_STATUSES:
            return Acknowledged.ALREADY
        version = str((task.get("meta") or {}).get("versionId") or "")
        done = acknowledged(task, account.fhir_reference, self._clock())
        try:
            await system.request_json(
                "PUT", f"Task/{task_id}", body=done, headers={"If-Match": f'W/"{version}"'}
            )
        except FhirError as error:
            if error.status != 412:
                raise
            return Acknowledged.ALREADY  # acknowledged or escalated at this very moment
        return Acknowledged.DONE
