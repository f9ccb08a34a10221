"""The first "check symptoms" turn of each demo patient: latency and AuditEvents written.

A fresh var/ (SQLite) is seeded with `carebot demo` (DAYS of device vitals), the whole app
runs on a loopback port, and each demo patient signs in to the portal and sends, through
the local Direct Line channel, first "help" (the menu: no FHIR, the baseline measured in
the same run) and then "check symptoms" (the triage dialog reads the patient's device
vitals). A Direct Line POST returns when the turn is done, so its duration is the turn's.

    .venv/bin/python bench/first_turn.py [--days 1]

For a "before" figure, run this same file from a checkout of an older commit (its `bench/`
folder): the script puts its own checkout first on `sys.path`.

Prints one JSON line per patient, then one summary line: median latencies, their ratio,
and the AuditEvents each first triage turn added (read with the service's system client).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.demo import _load_or_make_password, run_demo_seed  # noqa: E402
from bot.demo_clinical import DEMO_PATIENTS  # noqa: E402
from bot.services import Services  # noqa: E402
from integrations.fhir.search import SearchQuery  # noqa: E402
from tests.bot.directline_client import DirectLineTestClient, browser_session  # noqa: E402
from tests.bot.service import running_app, service_settings  # noqa: E402


async def _audit_count(services: Services) -> int:
    system: Any = services.fhir.system()
    if inspect.isawaitable(system):  # main at 615cd3a, measured as the "before"
        system = await system
    return int(await system.count(SearchQuery(AuditEvent)))


async def _timed_say(client: DirectLineTestClient, text: str) -> float:
    start = time.perf_counter()
    await client.say(text)
    return time.perf_counter() - start


async def main(days: float) -> int:
    """Seed, serve, and measure each demo patient's first turns."""
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        settings = service_settings(var, f"sqlite+aiosqlite:///{var / 'carebot.db'}")
        settings = settings.model_copy(update={"log_level": "WARNING"})
        await run_demo_seed(settings, days=days)
        password = _load_or_make_password(settings)
        help_s: list[float] = []
        triage_s: list[float] = []
        async with running_app(settings, seed=False) as (base, services):
            for patient in DEMO_PATIENTS:
                async with browser_session() as http:
                    client = DirectLineTestClient(http, base)
                    await client.sign_in(patient.username, password)
                    await client.start()
                    help_s.append(await _timed_say(client, "help"))
                    before = await _audit_count(services)
                    triage_s.append(await _timed_say(client, "check symptoms"))
                    added = await _audit_count(services) - before
                    texts = await client.bot_texts()
                print(
                    json.dumps(
                        {
                            "patient": patient.username,
                            "help_s": round(help_s[-1], 4),
                            "first_triage_s": round(triage_s[-1], 4),
                            "audit_events_added": added,
                            "replies": len(texts),
                        }
                    ),
                    flush=True,
                )
        help_median = statistics.median(help_s)
        triage_median = statistics.median(triage_s)
        print(
            json.dumps(
                {
                    "summary": "first_turn",
                    "days_of_vitals": days,
                    "patients": len(triage_s),
                    "help_median_s": round(help_median, 4),
                    "first_triage_median_s": round(triage_median, 4),
                    "first_triage_max_s": round(max(triage_s), 4),
                    "ratio_triage_over_help": round(triage_median / help_median, 2),
                }
            )
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0, help="days of seeded device vitals")
    sys.exit(asyncio.run(main(parser.parse_args().days)))
