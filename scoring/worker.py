"""The scoring worker: follows the FHIR store's change feed and writes risks back.

`ScoringWorker.poll_once()` reads the system `_history` in commit order from a durable
cursor, finds the patients whose vital Observations changed, scores their windows
(`score_patient`) and moves the cursor on only after they were written; a worker killed
in between scores those patients again, and its writes are idempotent: each RiskAssessment
and Flag is found by its identifier and rewritten only if its content changed (else
created with If-None-Exist). `run_batch(start, end)` re-scores a period for every patient
with Observations in it. The FHIR client comes from the service's access seam
(`FhirAccess.system()`); nothing here picks a server or a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from integrations.fhir.client import FhirClient
from integrations.fhir.search import SearchQuery
from scoring.assessments import (
    FLAG_SYSTEM,
    RISK_ASSESSMENT_SYSTEM,
    AlertRule,
    episodes,
    flag,
    iso,
    out_of_range,
    risk_assessment,
)
from scoring.features import news2_inputs
from scoring.model import TrainedModel
from scoring.news2 import DEFAULT_MAX_AGE, news2
from scoring.score import RiskScore, qualitative, score
from scoring.stay_features import Floats, StayRows, stay_features
from scoring.windows import (
    DEFAULT_WIDTH,
    MODEL_VITALS,
    VitalSample,
    Window,
    latest_sets_before,
    parse_instant,
    samples_from_observation,
    tumbling_windows,
    window_start,
)

log = logging.getLogger(__name__)
Json = dict[str, Any]
_ALL_PAGES = 1_000_000  # a stay is scored whole: no page of it may be left out


class Cursor(Protocol):
    """Where the worker is in the change feed."""

    def load(self) -> str | None:
        """The last processed entry's lastModified, or None to start at the beginning."""
        ...

    def save(self, position: str) -> None:
        """Remember POSITION durably."""
        ...


class FileCursor:
    """A cursor in a small file, replaced atomically (write, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> str | None:
        """The saved position, or None."""
        try:
            return str(json.loads(self.path.read_text(encoding="utf-8"))["since"])
        except FileNotFoundError:
            return None

    def save(self, position: str) -> None:
        """Write POSITION so that a crash leaves the old or the new one, never half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as stream:
            json.dump({"since": position}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(self.path)


class PatientLocks(Protocol):
    """Keeps two workers from scoring one patient at once."""

    def hold(self, patient: str) -> Any:
        """An async context manager giving True when this worker has the patient."""
        ...


class LocalLocks:
    """One process: an asyncio lock per patient (PostgreSQL deployments use advisory locks)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def hold(self, patient: str) -> AsyncIterator[bool]:
        """Wait for PATIENT's lock."""
        lock = self._locks.setdefault(patient, asyncio.Lock())
        async with lock:
            yield True


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker windows, looks back, judges and polls."""

    width: timedelta = DEFAULT_WIDTH
    lookback: timedelta | None = None
    """Observations this far before a scored window feed its features; None: the whole
    stay, so that a window's features (hours monitored, the stay's own mean) do not
    depend on which range was scored."""
    max_age: timedelta = DEFAULT_MAX_AGE
    rule: AlertRule = field(default_factory=AlertRule)
    poll_interval_s: float = 5.0
    page_size: int = 500


@dataclass
class Written:
    """What one scoring pass wrote (for logs, tests and benchmarks)."""

    assessments: int = 0
    unchanged: int = 0
    flags: int = 0
    patients: set[str] = field(default_factory=set)


def _strip(resource: Json) -> Json:
    return {k: v for k, v in resource.items() if k not in ("id", "meta", "text")}


def _entries(bundle: Json | None) -> list[Json]:
    entries = (bundle or {}).get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


class ScoringWorker:
    """Scores patients' windows and writes RiskAssessments and Flags through CLIENT."""

    def __init__(
        self,
        client: FhirClient,
        model: TrainedModel,
        config: WorkerConfig = WorkerConfig(),
        cursor: Cursor | None = None,
        locks: PatientLocks | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.config = config
        self.cursor = cursor
        self.locks = locks or LocalLocks()
        self.model_version = model.manifest.model_sha256[:12]

    # ----- reads ------------------------------------------------------------------------
    async def _search(self, resource_type: str, params: list[tuple[str, str]]) -> list[Json]:
        """Every match of PARAMS, all pages (`FhirClient.search_pages_json`)."""
        model = cast(type[Resource], get_fhir_model_class(resource_type))
        query = SearchQuery(model, tuple(params))
        return [
            entry["resource"]
            async for page in self.client.search_pages_json(query, max_pages=_ALL_PAGES)
            for entry in _entries(page)
            if isinstance(entry.get("resource"), dict)
        ]

    async def _samples(self, patient: str, since: datetime, until: datetime) -> list[VitalSample]:
        params = [
            ("patient", f"Patient/{patient}"),
            ("category", "vital-signs"),
            ("date", f"ge{iso(since)}"),
            ("date", f"lt{iso(until)}"),
            ("_count", str(self.config.page_size)),
        ]
        samples: list[VitalSample] = []
        for resource in await self._search("Observation", params):
            samples += samples_from_observation(resource)
        return samples

    async def _demographics(self, patient: str, at: datetime) -> tuple[float, float]:
        _, data = await self.client.request_json("GET", f"Patient/{patient}")
        data = data or {}
        sex = {"male": 1.0, "female": 0.0}.get(str(data.get("gender")), math.nan)
        age = math.nan
        birth = data.get("birthDate")
        if isinstance(birth, str) and len(birth) >= 4:
            age = at.year - int(birth[:4])
        return float(age), sex

    # ----- writes -----------------------------------------------------------------------
    async def _upsert(self, resource: Json, system: str) -> bool:
        """Create or update the resource with RESOURCE's identifier; False if unchanged."""
        value = resource["identifier"][0]["value"]
        token = f"{system}|{value}"
        rtype = resource["resourceType"]
        existing = await self._search(rtype, [("identifier", token)])
        if existing:
            current = existing[0]
            if _strip(current) == _strip(resource):
                return False
            body = {**resource, "id": current["id"]}
            await self.client.request_json("PUT", f"{rtype}/{current['id']}", body=body)
            return True
        await self.client.request_json(
            "POST",
            rtype,
            body=resource,
            headers={"If-None-Exist": f"identifier={token}"},
            idempotent=True,
        )
        return True

    # ----- scoring ----------------------------------------------------------------------
    async def score_patient(self, patient: str, start: datetime, end: datetime) -> Written:
        """Score PATIENT's windows that start in [START, END) and write what changed: their
        RiskAssessments, and the Flags of the episodes that touch them (episodes are found
        from the whole stay, so a re-run finds the same ones)."""
        written = Written(patients={patient})
        async with self.locks.hold(patient) as mine:
            if not mine:
                return Written()
            first = window_start(start, self.config.width)
            since = datetime(1970, 1, 1, tzinfo=UTC)
            if self.config.lookback is not None:
                since = first - self.config.lookback
            samples = await self._samples(patient, since, end)
            windows = tumbling_windows(patient, samples, self.config.width)
            if not windows:
                return written
            age, sex = await self._demographics(patient, windows[-1].end)
            x, index = self._features(windows, age, sex)
            p = self.model.probabilities(x)
            judged: list[tuple[datetime, datetime, list[str]]] = []
            ends = [w.end for w in windows]
            latest_sets = latest_sets_before(samples, ends, (*MODEL_VITALS,))
            for w, latest in zip(windows, latest_sets, strict=True):
                n2 = news2(news2_inputs(latest), at=w.end, max_age=self.config.max_age)
                quick = RiskScore(
                    float(p[index[w.start]]),
                    qualitative(float(p[index[w.start]]), self.model.manifest.threshold),
                    float(p[index[w.start]]) >= self.model.manifest.threshold,
                    (),
                )
                judged.append((w.start, w.end, out_of_range(quick, n2, self.config.rule)))
                if w.start < first:
                    continue
                risk = score(self.model, x[index[w.start]])
                resource = risk_assessment(
                    patient, w.start, w.end, w.sources, risk, n2, self.model_version
                )
                if await self._upsert(resource, RISK_ASSESSMENT_SYSTEM):
                    written.assessments += 1
                else:
                    written.unchanged += 1
            for episode in episodes(judged, self.config.rule.recovery):
                if episode.closed_at is not None and episode.closed_at <= first:
                    continue
                resource = flag(
                    patient, episode.start, episode.last_out, episode.reasons, episode.closed_at
                )
                written.flags += int(await self._upsert(resource, FLAG_SYSTEM))
        return written

    def _features(
        self, windows: list[Window], age: float, sex: float
    ) -> tuple[Floats, dict[datetime, int]]:
        """The stay's hourly grid (window means, NaN for a vital or an hour without
        readings) turned into model features; the row of each window."""
        origin = windows[0].start
        hours = int((windows[-1].start - origin) / self.config.width) + 1
        values = np.full((hours, len(MODEL_VITALS)), np.nan)
        index = {w.start: int((w.start - origin) / self.config.width) for w in windows}
        for w in windows:
            for j, vital in enumerate(MODEL_VITALS):
                got = [s.value for s in w.samples if s.vital is vital]
                if got:
                    values[index[w.start], j] = float(np.mean(got))
        rows = StayRows(
            values,
            np.arange(hours, dtype=np.int64),
            np.full(hours, age),
            np.full(hours, sex),
            np.arange(1, hours + 1, dtype=np.float64),
        )
        return stay_features(rows), index

    # ----- following the change feed ----------------------------------------------------
    async def poll_once(self) -> Written:
        """Score the patients whose Observations changed since the cursor; then move it."""
        since = self.cursor.load() if self.cursor is not None else None
        params = [("_count", str(self.config.page_size)), ("_sort", "_lastUpdated")]
        if since:
            params.append(("_since", since))
        _, page = await self.client.request_json("GET", "_history", params=params)
        changed: dict[str, tuple[datetime, datetime]] = {}
        position = since
        for entry in _entries(page):
            modified = entry.get("response", {}).get("lastModified")
            if since and modified and parse_instant(modified) <= parse_instant(since):
                continue
            position = modified or position
            resource = entry.get("resource")
            if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
                continue
            subject = str(resource.get("subject", {}).get("reference", ""))
            samples = samples_from_observation(resource)
            if not subject.startswith("Patient/") or not samples:
                continue
            patient = subject.removeprefix("Patient/")
            low, high = changed.get(patient, (samples[0].at, samples[0].at))
            changed[patient] = (min(low, samples[0].at), max(high, samples[0].at))
        total = Written()
        for patient, (low, high) in sorted(changed.items()):
            done = await self.score_patient(patient, low, high + self.config.width)
            total.assessments += done.assessments
            total.unchanged += done.unchanged
            total.flags += done.flags
            total.patients |= done.patients
        if self.cursor is not None and position and position != since:
            self.cursor.save(position)
        return total

    async def follow(self) -> None:
        """Poll forever (a worker-host task)."""
        while True:
            done = await self.poll_once()
            if done.assessments or done.flags:
                log.info(
                    "scored %d patients: %d assessments, %d flag changes",
                    len(done.patients),
                    done.assessments,
                    done.flags,
                )
            else:
                await asyncio.sleep(self.config.poll_interval_s)

    async def run_batch(self, start: datetime, end: datetime) -> Written:
        """Re-score every window in [START, END) of every patient with Observations in it."""
        params = [
            ("category", "vital-signs"),
            ("date", f"ge{iso(start)}"),
            ("date", f"lt{iso(end)}"),
            ("_count", str(self.config.page_size)),
        ]
        patients = sorted(
            {
                str(o.get("subject", {}).get("reference", "")).removeprefix("Patient/")
                for o in await self._search("Observation", params)
                if str(o.get("subject", {}).get("reference", "")).startswith("Patient/")
            }
        )
        total = Written()
        for patient in patients:
            done = await self.score_patient(patient, start, end)
            total.assessments += done.assessments
            total.unchanged += done.unchanged
            total.flags += done.flags
            total.patients |= done.patients
        return total


def utc_now() -> datetime:
    """Now, UTC."""
    return datetime.now(UTC)
