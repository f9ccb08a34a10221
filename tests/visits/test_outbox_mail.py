"""Visit mail through the durable outbox: stored once per key, delivered by the handler to
the file adapter, a bad address refused before anything is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.mail.file_mail import FileMail
from integrations.mail.models import Attachment, MailError, MailMessage
from integrations.mail.outbox_mail import MAIL, MailHandler, OutboxMail, from_payload, to_payload
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from integrations.persistence.outbox import Outbox, OutboxDispatcher, OutboxStatus

MESSAGE = MailMessage("visit/a1/confirmed/patient", "alice@example.org", "Your visit", "Booked.",
                      (Attachment("visit.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                                  "text/calendar; method=REQUEST"),))  # fmt: skip


def test_a_mail_survives_the_payload_round_trip() -> None:
    assert from_payload(to_payload(MESSAGE)) == MESSAGE
    with pytest.raises(ValueError, match="not a mail payload"):
        from_payload('{"to": "x"}')


async def test_mail_is_stored_once_then_delivered_to_the_adapter(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        outbox = Outbox(create_sessionmaker(engine))
        pokes: list[int] = []
        mail = OutboxMail(outbox, "clinic@example.org", lambda: pokes.append(1))
        await mail.send(MESSAGE)
        await mail.send(MESSAGE)  # a retried producer
        assert pokes == [1]
        with pytest.raises(MailError):
            await mail.send(MailMessage("visit/x", "not-an-address", "s", "t"))
        assert await outbox.status("visit/x") is None
        files = FileMail(tmp_path / "mail", "clinic@example.org")
        dispatcher = OutboxDispatcher(outbox, {MAIL: MailHandler(files)})
        assert await dispatcher.dispatch_once() == 1
        assert await dispatcher.dispatch_once() == 0
        assert files.path_of(MESSAGE).exists()
        assert await outbox.status(MESSAGE.key) == (OutboxStatus.SENT, 1)
    finally:
        await engine.dispose()
