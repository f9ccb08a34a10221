"""Scoring throughput and latency. Prints JSON lines.

- batch: hourly windows of set-A stays scored per second (stay features + the shipped
  model's calibrated probabilities + NEWS2), against the bare feature extraction measured
  in the same run as the baseline. Target >= 20,000 windows/s.
- worker: a new Observation posted to the embedded store (SQLite, in process) until the
  worker following the change feed has stored the RiskAssessment of its window; p50/p95.
  Target p95 <= 2 s.

    .venv/bin/python bench/scoring.py [--patients 4000] [--observations 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integrations.fhir.access import FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from scoring.assessments import RISK_ASSESSMENT_SYSTEM, window_identifier
from scoring.challenge_news2 import news2_of_rows
from scoring.follower import FeedFollower
from scoring.model import load_model
from scoring.physionet import read_challenge_psv, subset
from scoring.score import probabilities
from scoring.stay_features import stay_features
from scoring.training import mask_of
from scoring.windows import window_start
from scoring.work_queue import WorkQueue, claim_strategy
from scoring.worker import ScoringWorker, WorkerConfig
from tests.corpora import shared_dir

TARGET_WINDOWS_PER_S = 20_000
TARGET_P95_S = 2.0


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def batch(patients: int) -> None:
    data = read_challenge_psv(shared_dir() / "corpora/physionet2019/setA.psv.gz")
    chosen = frozenset(data.patient_ids[:patients])
    rows = subset(data, mask_of(data, chosen))
    model = load_model()
    n = len(rows.patients)
    started = time.perf_counter()
    stay_features(rows.rows)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    p = probabilities(model, stay_features(rows.rows))
    news2_of_rows(rows)
    scored = time.perf_counter() - started
    emit(
        bench="scoring_batch",
        windows=n,
        patients=patients,
        features_only_windows_per_s=round(n / bare),
        scored_windows_per_s=round(n / scored),
        ratio_scored_to_features=round(bare / scored, 3),
        target_windows_per_s=TARGET_WINDOWS_PER_S,
        meets_target=n / scored >= TARGET_WINDOWS_PER_S,
        mean_probability=round(float(p.mean()), 4),
    )


def observation(patient: str, at: datetime, value: float, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        "identifier": [{"system": "urn:bench", "value": f"hr-{n}"}],
    }  # fmt: skip


async def worker_latency(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await migrate(url)
        engine = create_engine(url)
        config = FhirConfig(secret_key="b" * 32)
        async with standalone_access(config, create_sessionmaker(engine)) as access:
            client = access.system()
            _, patient = await client.request_json(
                "POST", "Patient", body={"resourceType": "Patient"}
            )
            pid = str((patient or {})["id"])
            worker = ScoringWorker(client, load_model(), WorkerConfig(poll_interval_s=0.05))
            queue = WorkQueue(create_sessionmaker(engine), claim_strategy(url))
            follower = asyncio.create_task(FeedFollower(worker, queue).follow())
            latencies = []
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
                hours=count
            )
            for i in range(count):
                at = start + timedelta(hours=i, minutes=5)
                ident = f"{RISK_ASSESSMENT_SYSTEM}|{window_identifier(pid, window_start(at))}"
                began = time.perf_counter()
                await client.request_json(
                    "POST", "Observation", body=observation(pid, at, 70 + i, i)
                )
                while True:
                    _, found = await client.request_json(
                        "GET", "RiskAssessment", params=[("identifier", ident)]
                    )
                    if (found or {}).get("entry"):
                        break
                    await asyncio.sleep(0.02)
                latencies.append(time.perf_counter() - began)
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        await engine.dispose()
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    emit(
        bench="scoring_worker_latency",
        observations=count,
        p50_s=round(statistics.median(ordered), 3),
        p95_s=round(p95, 3),
        target_p95_s=TARGET_P95_S,
        meets_target=p95 <= TARGET_P95_S,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=4000)
    parser.add_argument("--observations", type=int, default=20)
    args = parser.parse_args()
    batch(args.patients)
    asyncio.run(worker_latency(args.observations))


if __name__ == "__main__":
    main()
