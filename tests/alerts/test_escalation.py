"""Escalation: an alert nobody acknowledged within its kind's time goes to the backup care
manager (the Task's owner changes, its history keeps the first owner, the backup gets
their own deliveries); an acknowledged one does not. Pure `due` checks too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.proactive import OUTBOX
from bot.services import SERVICES
from integrations.accounts import Role
from integrations.alerts.codes import ESCALATED_EXTENSION, AlertKind
from integrations.alerts.detector import Recipients
from integrations.alerts.escalation import AlertEscalator, due
from integrations.alerts.resources import acknowledged
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.outbox import Outbox
from tests.alerts.world import GRACE, care_team, create, eventually, note, patient, put, search
from tests.bot.service import running_application, service_settings

BACKUP = "Practitioner/backup-cm"
AFTER = {AlertKind.NOTE: timedelta(minutes=60)}


def test_due_after_the_kinds_time_only_when_open_with_a_backup() -> None:
    authored = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    task = {
        "status": "requested",
        "authoredOn": "2026-12-04T09:00:00.000Z",
        "reasonCode": {
            "coding": [{"system": "https://carebot.example.org/fhir/CodeSystem/alert-kind",
                        "code": "note"}]
        },
        "restriction": {"recipient": [{"reference": BACKUP}]},
    }  # fmt: skip
    assert not due(task, AFTER, authored + timedelta(minutes=59))
    assert due(task, AFTER, authored + timedelta(minutes=60))
    assert not due({**task, "status": "completed"}, AFTER, authored + timedelta(hours=2))
    assert not due({**task, "restriction": {}}, AFTER, authored + timedelta(hours=2))
    marked = {**task, "extension": [{"url": ESCALATED_EXTENSION, "valueDateTime": "x"}]}
    assert not due(marked, AFTER, authored + timedelta(hours=2))
    assert not due(task, {AlertKind.FLAG: timedelta(0)}, authored + timedelta(hours=2))


async def test_unacknowledged_escalates_to_the_backup_and_acknowledged_does_not(
    tmp_path: Path, database_url: str
) -> None:
    async with running_application(service_settings(tmp_path, database_url)) as (_, app):
        services = app[SERVICES]
        fhir = services.fhir.system()
        await services.accounts.create(
            username="backup.cm", password="backup-password", role=Role.CARE_MANAGER,
            display_name="Backup", fhir_reference=BACKUP,
        )  # fmt: skip
        await put(fhir, patient("p1", "Alice", "Martin"), care_team("p1", GRACE, BACKUP))
        left = await create(fhir, note("p1"))
        handled = await create(fhir, note("p1"))
        left_task = (await eventually(lambda: search(fhir, "Task", focus=left)))[0]
        handled_task = (await eventually(lambda: search(fhir, "Task", focus=handled)))[0]
        assert left_task["restriction"] == {"recipient": [{"reference": BACKUP}]}
        now = datetime.now(UTC)
        await fhir.request_json(
            "PUT", f"Task/{handled_task['id']}", body=acknowledged(handled_task, GRACE, now)
        )
        later = now + timedelta(minutes=61)
        escalator = AlertEscalator(
            fhir,
            Recipients(fhir, services.accounts, ConversationRefStore(services.sessions)),
            Outbox(services.sessions),
            AFTER,
            notify=app[OUTBOX].notify,
            clock=lambda: later,
        )
        early = AlertEscalator(
            fhir, Recipients(fhir, services.accounts, ConversationRefStore(services.sessions)),
            Outbox(services.sessions), AFTER, clock=lambda: now + timedelta(minutes=59),
        )  # fmt: skip
        assert await early.escalate_once() == 0
        assert await escalator.escalate_once() == 1
        assert await escalator.escalate_once() == 0  # once only

        _, moved = await fhir.request_json("GET", f"Task/{left_task['id']}")
        assert moved is not None and moved["owner"] == {"reference": BACKUP}
        assert [e["url"] for e in moved["extension"]] == [ESCALATED_EXTENSION]
        _, first = await fhir.request_json("GET", f"Task/{left_task['id']}/_history/1")
        assert first is not None and first["owner"] == {"reference": GRACE}
        _, kept = await fhir.request_json("GET", f"Task/{handled_task['id']}")
        assert kept is not None and kept["owner"] == {"reference": GRACE}
        assert kept["status"] == "completed"

        async def to_backup() -> list[dict[str, object]]:
            found = await search(fhir, "Communication", recipient=BACKUP)
            return found

        communications = await eventually(to_backup)
        assert [c["basedOn"] for c in communications] == [
            [{"reference": f"Task/{left_task['id']}"}]
        ]
