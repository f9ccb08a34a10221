"""One alert dispatcher as its own process: delivers the alert items of DATABASE_URL's
outbox (inbox and mail channels: Communications in the embedded store, `.eml` files in
MAIL_DIR) until none is pending; every hand-over to the mail adapter is first appended to
SENDS (one outbox key a line), so a test sees each attempt the outside world saw. Prints,
as one JSON line, how many items this process delivered.

    python -m tests.alerts.dispatch_worker DATABASE_URL MAIL_DIR SENDS
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from integrations.alerts.codes import Channel
from integrations.alerts.deliveries import Delivery, DeliveryHandler, RecordOnly, outbox_kind
from integrations.alerts.mail import MailAlertSender
from integrations.fhir.access import FhirConfig, standalone_access
from integrations.mail.file_mail import FileMail
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.outbox import ClaimedItem, Outbox, OutboxDispatcher

SECRET = "d" * 40
DEADLINE_S = 600
LEASE = timedelta(seconds=10)


class LoggedMail:
    """The mail channel, with each hand-over written down first (fsync'd)."""

    def __init__(self, sender: MailAlertSender, log: Path) -> None:
        self._sender = sender
        self._log = log

    async def send(self, delivery: Delivery) -> None:
        """Note the attempt, then send."""
        with self._log.open("a") as out:
            out.write(delivery.key + "\n")
            out.flush()
            os.fsync(out.fileno())
        await self._sender.send(delivery)


class Counting:
    """Counts what this process delivered."""

    def __init__(self, handler: DeliveryHandler) -> None:
        self.handler = handler
        self.delivered = 0

    async def deliver(self, item: ClaimedItem) -> None:
        """Deliver and count."""
        await self.handler.deliver(item)
        self.delivered += 1


async def drain(url: str, mail_dir: Path, sends: Path) -> dict[str, int]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    outbox = Outbox(sessions, lease=LEASE)
    try:
        async with standalone_access(FhirConfig(secret_key=SECRET), sessions) as access:
            fhir = access.system()
            mail = LoggedMail(
                MailAlertSender(FileMail(mail_dir, "carebot@test"), "http://x"), sends
            )
            inbox = Counting(DeliveryHandler(RecordOnly(), fhir, max_attempts=10))
            mailer = Counting(DeliveryHandler(mail, fhir, max_attempts=10))
            dispatcher = OutboxDispatcher(
                outbox,
                {outbox_kind(Channel.INBOX): inbox, outbox_kind(Channel.MAIL): mailer},
                batch=20,
            )
            began = time.monotonic()
            idle_since: float | None = None
            while time.monotonic() - began < DEADLINE_S:
                if await dispatcher.dispatch_once():
                    idle_since = None
                    continue
                idle_since = idle_since or time.monotonic()
                # leases of a killed dispatcher run out after LEASE: wait past that once
                if time.monotonic() - idle_since > LEASE.total_seconds() + 1:
                    break
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    return {"delivered": inbox.delivered + mailer.delivered}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(drain(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))))
