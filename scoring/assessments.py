"""RiskAssessment and Flag JSON for a scored window, and when a window is out of range.

Pure. One RiskAssessment per patient and window (identifier `<patient>/<window start>`):
status final, the method, `basis` the Observations used, a first prediction with the
model's probability and qualitative risk, a second with NEWS2 (its points per parameter,
what was missing, whether stale). One Flag per episode (identifier
`<patient>/episode/<first window start>`), active while the patient is out of range and
closed (inactive, period end) once back in range for the configured time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.codes import CAREBOT_BASE_URL
from scoring.news2 import News2Score
from scoring.score import RiskScore

RISK_ASSESSMENT_SYSTEM = f"{CAREBOT_BASE_URL}/identifier/risk-assessment"
FLAG_SYSTEM = f"{CAREBOT_BASE_URL}/identifier/risk-flag"
METHOD_SYSTEM = f"{CAREBOT_BASE_URL}/CodeSystem/risk-method"
NEWS2_EXTENSION = f"{CAREBOT_BASE_URL}/StructureDefinition/news2"
LAST_OUT_OF_RANGE = f"{CAREBOT_BASE_URL}/StructureDefinition/flag-last-out-of-range"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"

Json = dict[str, Any]


@dataclass(frozen=True)
class AlertRule:
    """Out of range: NEWS2 at or above `news2_total`, a 3 in any single parameter, or the
    model's probability at or above its saved threshold; closed after `recovery` in range."""

    news2_total: int = 5
    single_parameter_3: bool = True
    use_model: bool = True
    recovery: timedelta = timedelta(hours=2)


def out_of_range(risk: RiskScore, news2: News2Score, rule: AlertRule) -> list[str]:
    """Why the window is out of range (empty when it is not)."""
    reasons = []
    if news2.total >= rule.news2_total:
        reasons.append(f"NEWS2 {news2.total}")
    if rule.single_parameter_3 and news2.any_parameter_3:
        reasons.append("NEWS2 3 in a single parameter")
    if rule.use_model and risk.above_threshold:
        reasons.append(f"model probability {risk.probability:.2f}")
    return reasons


@dataclass(frozen=True)
class Episode:
    """Consecutive out-of-range windows, until back in range for the recovery time."""

    start: datetime
    last_out: datetime
    reasons: list[str]
    closed_at: datetime | None


def episodes(
    judged: list[tuple[datetime, datetime, list[str]]], recovery: timedelta
) -> list[Episode]:
    """The episodes of JUDGED windows (start, end, reasons out of range), oldest first: one
    opens at an out-of-range window and closes at the end of the first in-range window
    that comes RECOVERY or more after the last out-of-range window's end."""
    found: list[Episode] = []
    current: Episode | None = None
    for start, end, reasons in judged:
        if reasons:
            if current is None:
                current = Episode(start, end, reasons, None)
            else:
                current = Episode(current.start, end, reasons, None)
        elif current is not None and end - current.last_out >= recovery:
            found.append(Episode(current.start, current.last_out, current.reasons, end))
            current = None
    if current is not None:
        found.append(current)
    return found


def iso(moment: datetime) -> str:
    """UTC, seconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_identifier(patient: str, start: datetime) -> str:
    """The RiskAssessment identifier value of PATIENT's window starting at START."""
    return f"{patient}/{iso(start)}"


def risk_assessment(
    patient: str,
    start: datetime,
    end: datetime,
    basis: tuple[str, ...],
    risk: RiskScore,
    news2: News2Score,
    model_version: str,
) -> Json:
    """The RiskAssessment of one window."""
    news2_parts = [
        {"url": "total", "valueInteger": news2.total},
        {"url": "risk", "valueCode": news2.risk.value},
        {"url": "stale", "valueBoolean": news2.is_stale},
        *({"url": "points", "valueString": f"{p.value}={n}"} for p, n in news2.points.items()),
        *({"url": "missing", "valueCode": p.value} for p in news2.missing),
        *({"url": "staleParameter", "valueCode": p.value} for p in news2.stale),
    ]
    missing = ", ".join(p.value for p in news2.missing) or "none"
    stale = " (stale readings)" if news2.is_stale else ""
    return {
        "resourceType": "RiskAssessment",
        "identifier": [
            {"system": RISK_ASSESSMENT_SYSTEM, "value": window_identifier(patient, start)}
        ],
        "status": "final",
        "method": {
            "coding": [
                {"system": METHOD_SYSTEM, "code": "deterioration-model", "version": model_version}
            ],
            "text": "carebot deterioration model (gradient boosting) and NEWS2 (RCP 2017)",
        },
        "subject": {"reference": f"Patient/{patient}"},
        "occurrencePeriod": {"start": iso(start), "end": iso(end)},
        "basis": [{"reference": ref} for ref in basis],
        "prediction": [
            {
                "outcome": {"text": "deterioration (sepsis-like) within 6 hours"},
                "probabilityDecimal": round(risk.probability, 6),
                "qualitativeRisk": {
                    "coding": [{"system": RISK_PROBABILITY, "code": risk.risk.value}]
                },
                "rationale": "; ".join(c.words for c in risk.contributions),
            },
            {
                "outcome": {"text": f"NEWS2 {news2.total}: {news2.risk.value} clinical risk"},
                "rationale": f"NEWS2 {news2.total}; missing: {missing}{stale}",
                "extension": [{"url": NEWS2_EXTENSION, "extension": news2_parts}],
            },
        ],
    }


def flag(
    patient: str,
    episode_start: datetime,
    last_out_of_range: datetime,
    reasons: list[str],
    closed_at: datetime | None,
) -> Json:
    """The Flag of one episode, active until CLOSED_AT."""
    period: Json = {"start": iso(episode_start)}
    if closed_at is not None:
        period["end"] = iso(closed_at)
    return {
        "resourceType": "Flag",
        "identifier": [{"system": FLAG_SYSTEM, "value": f"{patient}/episode/{iso(episode_start)}"}],
        "status": "inactive" if closed_at is not None else "active",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "clinical"}]}],
        "code": {"text": "Deterioration risk out of range: " + "; ".join(reasons)},
        "subject": {"reference": f"Patient/{patient}"},
        "period": period,
        "extension": [{"url": LAST_OUT_OF_RANGE, "valueDateTime": iso(last_out_of_range)}],
    }
