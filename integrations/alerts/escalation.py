"""Escalation: an alert not acknowledged within its kind's time goes to the backup care
manager. The Task's owner changes (with If-Match: of several escalators one wins; an
acknowledgement in between stops it) and it is marked escalated; the backup's deliveries
go through the outbox under their own keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.alerts.codes import ALERT_IDENTIFIER, REVIEW, TASK_CODE_SYSTEM, AlertKind
from integrations.alerts.detector import Recipients
from integrations.alerts.resources import backup_of, escalated, is_escalated, kind_of, reference
from integrations.alerts.rules import Alert
from integrations.fhir.client import FhirClient
from integrations.fhir.errors import FhirError
from integrations.fhir.feed import next_link, parse_instant
from integrations.persistence.outbox import Outbox

log = logging.getLogger(__name__)
Json = dict[str, Any]
MAX_PAGES = 50


def _now() -> datetime:
    return datetime.now(UTC)


def due(task: Json, after: Mapping[AlertKind, timedelta], now: datetime) -> bool:
    """True when TASK (open, not yet escalated, with a backup) waited its kind's time."""
    kind = kind_of(task)
    authored = task.get("authoredOn")
    if kind is None or kind not in after or not isinstance(authored, str):
        return False
    if task.get("status") != "requested" or is_escalated(task) or backup_of(task) is None:
        return False
    return parse_instant(authored) + after[kind] <= now


def alert_of(task: Json) -> Alert | None:
    """The alert a Task was raised for (from its identifier), if it names one."""
    kind = kind_of(task)
    patient = reference(task, "for")
    for identifier in task.get("identifier") or []:
        if identifier.get("system") == ALERT_IDENTIFIER and kind and patient:
            focus, _, version = str(identifier.get("value", "")).partition("/_history/")
            return Alert(kind, focus, version, patient, str(task.get("authoredOn", "")))
    return None


class AlertEscalator:
    """Looks for open alerts past their time and hands them to the backup."""

    def __init__(
        self,
        fhir: FhirClient,
        recipients: Recipients,
        outbox: Outbox,
        after: Mapping[AlertKind, timedelta],
        *,
        interval_s: float = 15.0,
        notify: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._fhir = fhir
        self._recipients = recipients
        self._outbox = outbox
        self._after = dict(after)
        self._interval_s = interval_s
        self._notify = notify
        self._clock = clock

    async def _open_tasks(self) -> list[Json]:
        params = [("code", f"{TASK_CODE_SYSTEM}|{REVIEW}"), ("status", "requested")]
        found: list[Json] = []
        _, page = await self._fhir.request_json("GET", "Task", params=[*params, ("_count", "200")])
        for _ in range(MAX_PAGES):
            found += [e["resource"] for e in (page or {}).get("entry") or [] if e.get("resource")]
            url = next_link(page)
            if url is None:
                break
            _, page = await self._fhir.request_json("GET", url)
        return found

    async def escalate_once(self) -> int:
        """Escalate every alert that is due; how many were."""
        now = self._clock()
        count = 0
        self._recipients.forget()
        for task in await self._open_tasks():
            alert = alert_of(task)
            if alert is None or not due(task, self._after, now):
                continue
            version = str((task.get("meta") or {}).get("versionId") or "")
            try:
                await self._fhir.request_json(
                    "PUT", f"Task/{task['id']}", body=escalated(task, now),
                    headers={"If-Match": f'W/"{version}"'},
                )  # fmt: skip
            except FhirError as error:
                if error.status == 412:
                    continue  # acknowledged or escalated meanwhile
                raise
            backup = backup_of(task)
            for delivery in await self._recipients.deliveries(alert, f"Task/{task['id']}", backup):
                await self._outbox.enqueue(delivery.to_item())
            count += 1
            log.info("alert Task/%s escalated", task["id"])
        if count and self._notify is not None:
            self._notify()
        return count

    async def run(self) -> None:
        """Escalate until cancelled (a worker-host task)."""
        while True:
            try:
                await self.escalate_once()
            except Exception as error:
                log.warning("alert escalation failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(self._interval_s)
