"""Inference: `score(model, features) -> RiskScore`, the one path from features to a risk.

Training evaluation, `carebot score predict` and the worker all call `probabilities` (many
rows) or `score` (one row, explained). An explanation replaces one vital's features at a
time (or age, sex, time monitored) by the training medians and says, in words, how far
the probability moves: the vitals that move it most are the top contributors.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from scoring.model import TrainedModel
from scoring.stay_features import FEATURE_NAMES, SHORT, Floats
from scoring.windows import DISPLAY, MODEL_VITALS

TOP = 3


class QualitativeRisk(enum.StrEnum):
    """Codes of http://terminology.hl7.org/CodeSystem/risk-probability used here."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


@dataclass(frozen=True)
class Contribution:
    """How one group of features moves the probability, and that said in words."""

    group: str
    delta: float
    words: str


@dataclass(frozen=True)
class RiskScore:
    """The model's probability, its qualitative risk, and why."""

    probability: float
    risk: QualitativeRisk
    above_threshold: bool
    contributions: tuple[Contribution, ...]


def _groups() -> list[tuple[str, str, list[int]]]:
    """(name, words, feature columns) of each explained group."""
    groups = []
    for vital in MODEL_VITALS:
        prefix = f"{SHORT[vital]}_"
        columns = [i for i, n in enumerate(FEATURE_NAMES) if n.startswith(prefix)]
        groups.append((vital.value, DISPLAY[vital], columns))
    for name, words in (("age", "age"), ("sex", "sex"), ("hours_monitored", "time monitored")):
        groups.append((name, words, [FEATURE_NAMES.index(name)]))
    return groups


GROUPS = _groups()


def qualitative(probability: float, threshold: float) -> QualitativeRisk:
    """High at or above THRESHOLD, moderate from half of it, low below."""
    if probability >= threshold:
        return QualitativeRisk.HIGH
    if probability >= threshold / 2:
        return QualitativeRisk.MODERATE
    return QualitativeRisk.LOW


def probabilities(model: TrainedModel, features: Floats) -> Floats:
    """The calibrated probability of each row."""
    return model.probabilities(features)


def _words(group: str, words: str, row: Floats, delta: float) -> str:
    direction = "raises" if delta > 0 else "lowers"
    detail = ""
    vital = next((v for v in MODEL_VITALS if v.value == group), None)
    if vital is not None:
        value = row[FEATURE_NAMES.index(f"{SHORT[vital]}_last")]
        slope = row[FEATURE_NAMES.index(f"{SHORT[vital]}_slope_6h")]
        if math.isnan(value):
            detail = " (no reading yet)"
        else:
            trend = "" if math.isnan(slope) else f", {slope:+.2g}/h over 6 h"
            detail = f" (last {value:.4g}{trend})"
    return f"{words}{detail} {direction} the risk by {abs(delta) * 100:.1f} points"


def score(model: TrainedModel, features: Floats) -> RiskScore:
    """The risk of one feature row (FEATURE_NAMES order), with its top contributors."""
    row = np.asarray(features, dtype=np.float64).reshape(1, -1)
    reference = np.asarray(model.manifest.reference, dtype=np.float64)
    variants = [row[0]]
    for _, _, columns in GROUPS:
        variant = row[0].copy()
        variant[columns] = reference[columns]
        variants.append(variant)
    p = probabilities(model, np.vstack(variants))
    base = float(p[0])
    contributions = sorted(
        (
            Contribution(
                name, base - float(p[k + 1]), _words(name, words, row[0], base - float(p[k + 1]))
            )
            for k, (name, words, _) in enumerate(GROUPS)
        ),
        key=lambda c: -abs(c.delta),
    )
    threshold = model.manifest.threshold
    return RiskScore(
        probability=base,
        risk=qualitative(base, threshold),
        above_threshold=base >= threshold,
        contributions=tuple(contributions[:TOP]),
    )
