"""FHIR store benchmark: bulk vital-sign ingest and the bot's hot reads, against Medplum.

The embedded store runs as its own process (`carebot fhir`, SQLite under var/bench/) on a
free loopback port; Medplum's engine (`@medplum/fhir-router` + `MemoryRepository` behind
tests/fhir/medplum/server.mjs) is the baseline measured in the same run, at the size it
holds in memory. The same workload goes to both:

- ingest: Observations (7 vital signs, one reading per patient every 10 minutes) for
  PATIENTS patients, POSTed in transaction bundles of BUNDLE entries;
- latest vitals for one patient: `Observation/$lastn?patient=` on carebot; Medplum has no
  $lastn, so there it is the equivalent search per code (`_sort=-date&_count=1`);
- one patient's heart rate over 7 days: `Observation?patient=&code=8867-4&date=ge..&date=lt..`;
- read by id.

Latencies are measured at the baseline's size on both servers (same data, so the ratios
compare like with like) and again on carebot at the full size. Prints JSON lines:
one per server and size, then ratios and targets (SQLite: >= 3,000 Observations/s ingest,
latest-vitals p99 <= 20 ms at 1M rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
MEDPLUM = ROOT / "tests" / "fhir" / "medplum"
LOINC = "http://loinc.org"
VITALS = [  # code, unit, typical value
    ("8867-4", "/min", 72.0),
    ("59408-5", "%", 97.0),
    ("9279-1", "/min", 16.0),
    ("8310-5", "Cel", 36.8),
    ("29463-7", "kg", 70.0),
    ("2339-0", "mg/dL", 100.0),
    ("85354-9", "mm[Hg]", 0.0),
]
START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)


@dataclass
class Server:
    """A FHIR server under test."""

    name: str
    base: str
    headers: dict[str, str]
    process: subprocess.Popen[str]
    has_lastn: bool
    patients: list[str] = field(default_factory=list)
    observation_ids: list[str] = field(default_factory=list)
    loaded: int = 0
    ingest_seconds: float = 0.0


def observation(patient: str, index: int) -> dict[str, Any]:
    """The INDEX-th reading of PATIENT (codes cycle; 10 minutes apart)."""
    code, unit, typical = VITALS[index % len(VITALS)]
    when = (START + STEP * index).strftime("%Y-%m-%dT%H:%M:%SZ")
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when,
    }
    if code == "85354-9":
        obs["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": c}]},
                "valueQuantity": {
                    "value": v,
                    "unit": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            }
            for c, v in (("8480-6", 120), ("8462-4", 80))
        ]
    else:
        obs["valueQuantity"] = {
            "value": round(typical + random.uniform(-3, 3), 1),
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        }
    return obs


def _wait_line(process: subprocess.Popen[str], prefix: str) -> str:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited before printing {prefix!r}")
        if prefix in line:
            return line


def start_carebot(var: Path) -> Server:
    """The embedded store in its own process, with a system token."""
    db = var / "fhir.db"
    env = {
        **os.environ,
        "CAREBOT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "CAREBOT_LOG_LEVEL": "WARNING",
        "CAREBOT_VAR_DIR": str(var),
    }
    cli = [sys.executable, "-m", "bot.cli", "fhir"]
    token = subprocess.run(
        [*cli, "clients", "add", "bench", "--scopes", "system/*.*"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    process = subprocess.Popen(
        [*cli, "--host", "127.0.0.1", "--port", "0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    base = _wait_line(process, "FHIR store at").split(" at ")[1].strip()
    return Server("carebot-sqlite", base, {"Authorization": f"Bearer {token}"}, process, True)


def start_medplum() -> Server:
    """Medplum's engine behind the node:http wrapper."""
    process = subprocess.Popen(
        [
            "node",
            "--experimental-websocket",
            "--no-warnings",
            "--max-old-space-size=4096",
            "server.mjs",
        ],
        cwd=MEDPLUM,
        env={**os.environ, "PORT": "0"},
        stdout=subprocess.PIPE,
        text=True,
    )
    port = _wait_line(process, "listening").split()[1]
    return Server("medplum-memory", f"http://127.0.0.1:{port}/fhir", {}, process, False)


def _rss_mb(pid: int) -> float:
    """Resident memory of PID and its child processes (carebot's bundle workers)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_rss_mb(int(child)) for child in children)


async def post_bundle(
    http: httpx.AsyncClient, server: Server, entries: list[dict[str, Any]]
) -> list[str]:
    """POST one transaction bundle; the ids it created."""
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}).encode()
    response = await http.post(
        server.base,
        content=body,
        headers={**server.headers, "Content-Type": "application/fhir+json"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"{server.name}: {response.status_code} {response.text[:300]}")
    return [str(e["response"]["location"]).split("/")[1] for e in response.json()["entry"]]


async def load_patients(http: httpx.AsyncClient, server: Server, count: int) -> None:
    """Create COUNT patients in transactions of 500."""
    for start in range(0, count, 500):
        entries = [
            {
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:bench:patient", "value": str(i)}],
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for i in range(start, min(count, start + 500))
        ]
        server.patients += [f"Patient/{pid}" for pid in await post_bundle(http, server, entries)]


async def ingest(
    http: httpx.AsyncClient, server: Server, upto: int, bundle: int, in_flight: int
) -> None:
    """Load Observations until the server holds UPTO of them (round-robin over patients)."""
    queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(maxsize=in_flight * 2)
    patients = server.patients

    async def produce() -> None:
        index = server.loaded
        while index < upto:
            size = min(bundle, upto - index)
            entries = []
            for i in range(index, index + size):
                patient = patients[i % len(patients)]
                entries.append(
                    {
                        "resource": observation(patient, i // len(patients)),
                        "request": {"method": "POST", "url": "Observation"},
                    }
                )
            await queue.put(entries)
            index += size
        for _ in range(in_flight):
            await queue.put(None)

    async def consume() -> None:
        while (entries := await queue.get()) is not None:
            ids = await post_bundle(http, server, entries)
            if len(server.observation_ids) < 5000:
                server.observation_ids += ids[:10]
            server.loaded += len(ids)

    started = time.perf_counter()
    await asyncio.gather(produce(), *[consume() for _ in range(in_flight)])
    server.ingest_seconds += time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


async def _timed(http: httpx.AsyncClient, server: Server, paths: list[str]) -> float:
    started = time.perf_counter()
    for path in paths:
        response = await http.get(f"{server.base}/{path}", headers=server.headers)
        if response.status_code != 200:
            raise RuntimeError(
                f"{server.name} {path}: {response.status_code} {response.text[:200]}"
            )
    return time.perf_counter() - started


async def latencies(
    http: httpx.AsyncClient, server: Server, samples: int
) -> dict[str, dict[str, float]]:
    """p50/p99 (ms) of the three hot reads, SAMPLES each on random patients and ids."""
    rng = random.Random(7)
    per_patient = server.loaded // len(server.patients)
    last = START + STEP * per_patient
    week = f"date=ge{(last - timedelta(days=7)).strftime('%Y-%m-%dT%H:%M:%SZ')}&date=lt{last.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    out: dict[str, dict[str, float]] = {}
    work = {
        "latest_vitals": lambda p: (
            [f"Observation/$lastn?patient={p}"]
            if server.has_lastn
            else [
                f"Observation?patient={p}&code={LOINC}|{c}&_sort=-date&_count=1"
                for c, _, _ in VITALS
            ]
        ),
        "heart_rate_7d": lambda p: [
            f"Observation?patient={p}&code={LOINC}|8867-4&{week}&_count=1000"
        ],
        "read_by_id": lambda _p: [f"Observation/{rng.choice(server.observation_ids)}"],
    }
    if server.has_lastn:  # issue 13's search kinds, on carebot (Medplum's engine lacks some)
        work.update(r4_search_kinds(server))
    for name, paths in work.items():
        for _ in range(min(5, samples)):
            await _timed(http, server, paths(rng.choice(server.patients)))
        times = [
            await _timed(http, server, paths(rng.choice(server.patients))) for _ in range(samples)
        ]
        out[name] = {
            "p50_ms": _pct(times, 0.5),
            "p99_ms": _pct(times, 0.99),
            "mean_ms": round(statistics.fmean(times) * 1000, 2),
        }
    return out


def r4_search_kinds(server: Server) -> dict[str, Any]:
    """One patient's searches of each kind issue 13 names, each index-driven."""
    hr = f"{LOINC}|8867-4"
    number = {p: i for i, p in enumerate(server.patients)}
    return {
        "token_not": lambda p: [f"Observation?patient={p}&code:not={hr}&_count=50"],
        "missing": lambda p: [f"Observation?patient={p}&performer:missing=true&_count=50"],
        "quantity_gt": lambda p: [f"Observation?patient={p}&value-quantity=gt100&_count=50"],
        "composite": lambda p: [
            f"Observation?patient={p}&code-value-quantity={hr}$gt100&_count=50"
        ],
        "chain": lambda p: [
            "Observation?subject:Patient.identifier="
            f"urn:bench:patient|{number[p]}&code={hr}&_count=50"
        ],
        "has": lambda p: [f"Patient?_id={p.partition('/')[2]}&_has:Observation:patient:code={hr}"],
        "revinclude": lambda p: [
            f"Patient?_id={p.partition('/')[2]}&_revinclude=Observation:patient"
        ],
        "summary_count": lambda p: [f"Observation?patient={p}&code={hr}&_summary=count"],
        "elements": lambda p: [
            f"Observation?patient={p}&code={hr}&_elements=valueQuantity&_count=50"
        ],
    }


def report(server: Server, extra: dict[str, Any]) -> dict[str, Any]:
    """One JSON line for SERVER at its current size."""
    line = {
        "bench": "fhir_store",
        "server": server.name,
        "observations": server.loaded,
        "patients": len(server.patients),
        "ingest_obs_per_s": round(server.loaded / server.ingest_seconds, 1)
        if server.ingest_seconds
        else None,
        "rss_mb": round(_rss_mb(server.process.pid), 1),
        **extra,
    }
    print(json.dumps(line), flush=True)
    return line


def _db_bytes(var: Path) -> int:
    return sum(p.stat().st_size for p in var.glob("fhir.db*"))


async def run(args: argparse.Namespace) -> int:
    var = ROOT / "var" / "bench" / "fhir_store"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    carebot = start_carebot(var)
    medplum = start_medplum()
    try:
        async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=8)) as http:
            for server in (medplum, carebot):
                await load_patients(http, server, args.patients)
            await ingest(http, medplum, args.baseline_observations, args.bundle, 1)
            base = report(
                medplum, {"latency": await latencies(http, medplum, args.baseline_samples)}
            )
            await ingest(http, carebot, args.baseline_observations, args.bundle, args.in_flight)
            same = report(
                carebot,
                {
                    "db_bytes": _db_bytes(var),
                    "latency": await latencies(http, carebot, args.samples),
                },
            )
            await ingest(http, carebot, args.observations, args.bundle, args.in_flight)
            full = report(
                carebot,
                {
                    "db_bytes": _db_bytes(var),
                    "latency": await latencies(http, carebot, args.samples),
                },
            )
    finally:
        for server in (carebot, medplum):
            server.process.terminate()
            server.process.wait(30)
            if server.process.stdout is not None:
                server.process.stdout.close()
    ratios = {"ingest": round(full["ingest_obs_per_s"] / base["ingest_obs_per_s"], 2)}
    for name in base["latency"]:
        ratios[f"{name}_p99_at_{base['observations']}"] = round(
            same["latency"][name]["p99_ms"] / base["latency"][name]["p99_ms"], 3
        )
    print(json.dumps({"bench": "fhir_store", "ratios_carebot_over_medplum": ratios}), flush=True)
    targets = {
        "ingest_obs_per_s>=3000": full["ingest_obs_per_s"] >= 3000,
        "latest_vitals_p99_ms<=20": full["latency"]["latest_vitals"]["p99_ms"] <= 20,
        "at_observations": full["observations"],
    }
    print(json.dumps({"bench": "fhir_store", "targets": targets}), flush=True)
    return 0


def main() -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=1_000)
    parser.add_argument(
        "--baseline-observations",
        type=int,
        default=2_000,
        help="size for Medplum's in-memory engine (and the like-for-like ratios);"
        " its searches scan every resource (about 2 s each at 2,000 here)",
    )
    parser.add_argument("--baseline-samples", type=int, default=5)
    parser.add_argument("--bundle", type=int, default=1_000)
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
