"""Scoring a patient's windows and writing the risks back to the FHIR store.

`ScoringWorker.score_patient()` scores the windows of one patient in a period and writes
them idempotently: each RiskAssessment and Flag is found by its identifier and rewritten
only if its content changed (else created with If-None-Exist), so a worker killed midway
and run again duplicates nothing. `run_batch(start, end)` re-scores a period for every
patient with Observations in it; following the change feed is `scoring.follower`'s. The
FHIR client comes from the service's access seam (`FhirAccess.system()`); nothing here
picks a server or a token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

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
    window_identifier,
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
    samples_from_observation,
    tumbling_windows,
    window_start,
)

Json = dict[str, Any]
_ALL_PAGES = 1_000_000  # a stay is scored whole: no page of it may be left out


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
    claim_batch: int = 20
    """Patients a follower claims at a time."""
    feed_overlap: timedelta = timedelta(0)
    """How far before its position the change feed is read again (`scoring.feed`)."""


@dataclass
class Written:
    """What one scoring pass wrote (for logs, tests and benchmarks)."""

    assessments: int = 0
    unchanged: int = 0
    flags: int = 0
    patients: set[str] = field(default_factory=set)
    windows: list[str] = field(default_factory=list)
    """Identifiers of the windows scored, in order (`window_identifier`)."""
    calls: int = 0
    """Patients scored (`score_patient` calls)."""

    def add(self, other: Written) -> None:
        """Count OTHER in."""
        self.assessments += other.assessments
        self.unchanged += other.unchanged
        self.flags += other.flags
        self.patients |= other.patients
        self.windows += other.windows
        self.calls += other.calls


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
    ) -> None:
        self.client = client
        self.model = model
        self.config = config
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
        """Create or update the resource with RESOURCE's identifier; False if unchanged.

        A conditional create first (one request for a new window); when it finds the
        resource (200), that one is compared and rewritten only if its content differs."""
        value = resource["identifier"][0]["value"]
        token = f"{system}|{value}"
        rtype = resource["resourceType"]
        response, found = await self.client.request_json(
            "POST",
            rtype,
            body=resource,
            headers={"If-None-Exist": f"identifier={token}", "Prefer": "return=representation"},
            idempotent=True,
        )
        if response.status_code == 201:
            return True
        if not (found and found.get("id") and found.get("identifier") == resource["identifier"]):
            # a server that answered without the match: look it up
            existing = await self._search(rtype, [("identifier", token)])
            if not existing:
                raise RuntimeError(f"{rtype}: a conditional create matched, a search did not")
            found = existing[0]
        if _strip(found) == _strip(resource):
            return False
        body = {**resource, "id": found["id"]}
        await self.client.request_json("PUT", f"{rtype}/{found['id']}", body=body)
        return True

    # ----- scoring ----------------------------------------------------------------------
    async def score_patient(self, patient: str, start: datetime, end: datetime) -> Written:
        """Score PATIENT's windows that start in [START, END) and write what changed: their
        RiskAssessments, and the Flags of the episodes that touch them (episodes are found
        from the whole stay, so a re-run finds the same ones)."""
        written = Written(patients={patient}, calls=1)
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
            written.windows.append(window_identifier(patient, w.start))
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
            total.add(await self.score_patient(patient, start, end))
        return total
