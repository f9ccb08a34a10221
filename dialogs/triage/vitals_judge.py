"""Judge vital signs against cited bands (NEWS2 and others) in the knowledge files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dialogs.triage.knowledge_base import Knowledge, VitalBand
from dialogs.triage.levels import Level
from dialogs.triage.models import VitalKind, VitalReading


@dataclass(frozen=True)
class VitalJudgement:
    """One band a reading fell in."""

    band: VitalBand
    reading: VitalReading


def worst_by_kind(readings: Iterable[VitalReading]) -> dict[VitalKind, list[VitalReading]]:
    """Group READINGS by kind."""
    grouped: dict[VitalKind, list[VitalReading]] = {}
    for reading in readings:
        grouped.setdefault(reading.kind, []).append(reading)
    return grouped


def judge_vitals(
    readings: Iterable[VitalReading], context_ids: frozenset[str], knowledge: Knowledge
) -> list[VitalJudgement]:
    """Every band hit by any of READINGS, given the context findings (age, pregnancy)."""
    out: list[VitalJudgement] = []
    for reading in readings:
        for band in knowledge.vital_bands:
            if band.kind is not reading.kind or not band.contains(reading.value):
                continue
            if band.only_if and not band.only_if <= context_ids:
                continue
            if band.unless & context_ids:
                continue
            out.append(VitalJudgement(band, reading))
    return out


def news2_score(
    readings: Iterable[VitalReading], confused: bool, knowledge: Knowledge
) -> tuple[int, int]:
    """The NEWS2 aggregate over the parameters present, and how many parameters were scored.

    The worst reading of each parameter counts; new confusion scores 3 (RCP 2017 chart).
    """
    scores: dict[VitalKind, int] = {}
    for reading in readings:
        for row in knowledge.news2:
            if row.kind is not reading.kind:
                continue
            if (row.low is None or reading.value >= row.low) and (
                row.high is None or reading.value <= row.high
            ):
                scores[reading.kind] = max(scores.get(reading.kind, 0), row.score)
    total = sum(scores.values()) + (3 if confused else 0)
    return total, len(scores) + (1 if confused else 0)


def news2_level(score: int, knowledge: Knowledge) -> tuple[Level, int] | None:
    """The level an aggregate NEWS2 score calls for, with its threshold, if any."""
    for threshold in sorted(knowledge.news2_thresholds, key=lambda t: -t.min_score):
        if score >= threshold.min_score:
            return threshold.level, threshold.min_score
    return None
