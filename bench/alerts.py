"""Care-manager alerts: a note written to the FHIR store until its notification is
delivered, on the embedded store (SQLite, in process), with the service's own detector
(change feed, default poll) and outbox dispatcher (inbox and `.eml` mail). Prints JSON lines.

- latency: one note at a time, POST until the inbox delivery is recorded (a Communication
  based on the alert's Task); p50/p99 against the bare FHIR write of a document of the
  same size that raises no alert, measured in the same run. Target p99 <= 1 s.
- throughput: ALERTS notes written back to back, until every inbox delivery is recorded;
  alerts/s against the bare writes/s of the same number of documents.

    .venv/bin/python bench/alerts.py [--latency 200] [--alerts 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integrations.accounts import AccountRepository
from integrations.alerts.codes import Channel
from integrations.alerts.deliveries import Delivery, DeliveryHandler, RecordOnly, outbox_kind
from integrations.alerts.detector import FEED_NAME, AlertDetector, Recipients
from integrations.alerts.mail import MailAlertSender
from integrations.fhir.access import FhirConfig, standalone_access
from integrations.fhir.client import FhirClient
from integrations.mail.file_mail import FileMail
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.feed_cursor import FeedCursor
from integrations.persistence.migrate import migrate
from integrations.persistence.outbox import Outbox, OutboxDispatcher
from tests.alerts.world import grace_and_alice, note

TARGET_P99_S = 1.0
QUIET = "51851-4"  # LOINC administrative note: a document that raises no alert


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _post(fhir: FhirClient, body: dict[str, Any]) -> str:
    _, data = await fhir.request_json("POST", "DocumentReference", body=body)
    return f"DocumentReference/{(data or {})['id']}"


async def run(latency_count: int, alerts: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await migrate(url)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        async with standalone_access(FhirConfig(secret_key="b" * 40), sessions) as access:
            fhir = access.system()
            accounts = AccountRepository(sessions)
            await grace_and_alice(fhir, accounts)
            text = "Reviewed today; stable. " * 8

            # the baseline: bare writes of documents that raise no alert
            bare: list[float] = []
            for _ in range(latency_count):
                began = time.perf_counter()
                await _post(fhir, note("p1", text, code=QUIET))
                bare.append(time.perf_counter() - began)
            began = time.perf_counter()
            for _ in range(alerts):
                await _post(fhir, note("p1", text, code=QUIET))
            bare_rate = alerts / (time.perf_counter() - began)

            delivered: dict[str, float] = {}
            arrived = asyncio.Event()

            def on_delivery(delivery: Delivery) -> None:
                delivered[delivery.focus] = time.perf_counter()
                arrived.set()

            outbox = Outbox(sessions)
            dispatcher = OutboxDispatcher(
                outbox,
                {
                    outbox_kind(Channel.INBOX): DeliveryHandler(
                        RecordOnly(), fhir, max_attempts=10, delivered=on_delivery
                    ),
                    outbox_kind(Channel.MAIL): DeliveryHandler(
                        MailAlertSender(FileMail(Path(folder) / "mail", "carebot@bench"), "http://x"),
                        fhir, max_attempts=10,
                    ),
                },
            )  # fmt: skip
            detector = AlertDetector(
                fhir,
                FeedCursor(sessions, FEED_NAME),
                Recipients(fhir, accounts, ConversationRefStore(sessions)),
                notify=dispatcher.notify,
            )
            while await detector.poll_once():  # past the baseline's documents first
                pass
            tasks = [asyncio.create_task(detector.run()), asyncio.create_task(dispatcher.run())]
            latencies: list[float] = []
            for _ in range(latency_count):
                began = time.perf_counter()
                focus = await _post(fhir, note("p1", text))
                while focus not in delivered:
                    arrived.clear()
                    await asyncio.wait_for(arrived.wait(), 30)
                latencies.append(delivered[focus] - began)
            began = time.perf_counter()
            foci = [await _post(fhir, note("p1", text)) for _ in range(alerts)]
            written = time.perf_counter() - began
            while not all(f in delivered for f in foci):
                arrived.clear()
                await asyncio.wait_for(arrived.wait(), 60)
            took = max(delivered[f] for f in foci) - began
            mail_dir = Path(folder) / "mail"
            for _ in range(300):  # the mails go out beside the inbox: let them finish
                if len(list(mail_dir.glob("*.eml"))) >= latency_count + alerts:
                    break
                await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            mails = len(list(mail_dir.glob("*.eml")))
        await engine.dispose()
    load = os.getloadavg()
    p99 = _quantile(latencies, 0.99)
    emit(
        bench="alerts_latency",
        alerts=latency_count,
        p50_s=round(statistics.median(latencies), 3),
        p99_s=round(p99, 3),
        bare_write_p50_s=round(statistics.median(bare), 4),
        bare_write_p99_s=round(_quantile(bare, 0.99), 4),
        ratio_p50_to_bare_write=round(statistics.median(latencies) / statistics.median(bare), 1),
        target_p99_s=TARGET_P99_S,
        meets_target=p99 <= TARGET_P99_S,
        poll_interval_s=detector.config.poll_interval_s,
        load_average=[round(x, 2) for x in load],
    )
    emit(
        bench="alerts_throughput",
        alerts=alerts,
        written_per_s=round(alerts / written, 1),
        delivered_per_s=round(alerts / took, 1),
        bare_writes_per_s=round(bare_rate, 1),
        ratio_delivered_to_bare_writes=round((alerts / took) / bare_rate, 3),
        mails=mails - latency_count,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--alerts", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.latency, args.alerts))


if __name__ == "__main__":
    main()
