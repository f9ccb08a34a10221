"""Training the deterioration model on the challenge's rows.

Patients (never rows) are split with a fixed seed: 70% train, 10% calibration (Platt
scaling and the alert threshold), 20% held out for evaluation. Negative patients of the
training part may be subsampled (by patient) to keep training short on a small machine;
the calibration part keeps the real prevalence, so the probabilities stay calibrated.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

from scoring.metrics import fit_logistic, metrics
from scoring.model import Manifest, TrainedModel
from scoring.physionet import ChallengeRows
from scoring.stay_features import FEATURE_NAMES, Floats, stay_features

DEFAULT_SEED = 2019
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingConfig:
    """Everything a training run depends on besides the data."""

    seed: int = DEFAULT_SEED
    negative_fraction: float = 0.5
    """The share of never-septic training patients kept."""
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    specificity: float = 0.9
    """The alert threshold is the calibration rows' probability at this specificity."""


@dataclass(frozen=True)
class Split:
    """Which part each patient is in (index arrays into the data's patient list)."""

    train: frozenset[str]
    calibration: frozenset[str]
    test: frozenset[str]


def split_patients(patients: list[str], seed: int) -> Split:
    """70/10/20 by patient, from a permutation of the sorted ids with SEED."""
    ordered = sorted(patients)
    order = np.random.default_rng(seed).permutation(len(ordered))
    shuffled = [ordered[i] for i in order]
    a, b = int(0.7 * len(shuffled)), int(0.8 * len(shuffled))
    return Split(frozenset(shuffled[:a]), frozenset(shuffled[a:b]), frozenset(shuffled[b:]))


def mask_of(data: ChallengeRows, patients: frozenset[str]) -> npt.NDArray[np.bool_]:
    """Rows of DATA whose patient is in PATIENTS."""
    return np.fromiter(
        (p in patients for p in data.patients), dtype=np.bool_, count=len(data.patients)
    )


def septic_patients(data: ChallengeRows) -> frozenset[str]:
    """Patients with SepsisLabel 1 at some hour."""
    if data.label is None:
        raise ValueError("the rows have no SepsisLabel")
    return frozenset(p for p, y in zip(data.patients, data.label, strict=True) if y == 1)


def training_patients(data: ChallengeRows, split: Split, config: TrainingConfig) -> frozenset[str]:
    """Every septic training patient and NEGATIVE_FRACTION of the others (fixed seed)."""
    septic = septic_patients(data)
    negatives = sorted(split.train - septic)
    rng = np.random.default_rng(config.seed + 1)
    keep = rng.random(len(negatives)) < config.negative_fraction
    return frozenset(split.train & septic) | frozenset(
        n for n, k in zip(negatives, keep, strict=True) if k
    )


def threshold_at_specificity(y: Floats, probability: Floats, specificity: float) -> float:
    """The probability above which SPECIFICITY of the negative rows stay below."""
    negatives = np.sort(probability[y == 0])
    return float(negatives[min(len(negatives) - 1, int(specificity * len(negatives)))])


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(
    data: ChallengeRows,
    data_sha256: str,
    config: TrainingConfig = TrainingConfig(),
    progress: Progress = _stderr,
    features: Floats | None = None,
) -> TrainedModel:
    """Train, calibrate and pick the threshold; the model with its manifest (metrics on
    the held-out patients in `manifest.metrics`)."""
    if data.label is None:
        raise ValueError("training needs SepsisLabel")
    started = time.monotonic()
    progress("[1/5] features over each stay")
    x = stay_features(data.rows) if features is None else features
    y = data.label
    split = split_patients(data.patient_ids, config.seed)
    fit_rows = mask_of(data, training_patients(data, split, config))
    calibration_rows = mask_of(data, split.calibration)
    test_rows = mask_of(data, split.test)
    progress(f"[2/5] gradient boosting on {int(fit_rows.sum())} rows, {config.max_iter} rounds")
    classifier = HistGradientBoostingClassifier(
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=config.l2_regularization,
        early_stopping=False,
        random_state=config.seed,
    )
    classifier.fit(x[fit_rows], y[fit_rows].astype(np.int64))
    progress("[3/5] calibration on held-out calibration patients")
    raw = np.asarray(classifier.decision_function(x[calibration_rows]), dtype=np.float64)
    slope, intercept = fit_logistic(raw, y[calibration_rows])
    calibrated = 1.0 / (1.0 + np.exp(-(intercept + slope * raw)))
    threshold = threshold_at_specificity(y[calibration_rows], calibrated, config.specificity)
    with np.errstate(all="ignore"):
        reference = tuple(float(v) for v in np.nanmedian(x[fit_rows], axis=0))
    manifest = Manifest(
        features=FEATURE_NAMES,
        sklearn_version=sklearn.__version__,
        training_data_sha256=data_sha256,
        seed=config.seed,
        threshold=threshold,
        reference=reference,
        notes={
            "split": "patients 70% train / 10% calibration / 20% test",
            "negative_fraction": str(config.negative_fraction),
            "threshold": f"specificity {config.specificity} on calibration patients",
            "label": "SepsisLabel (set from 6 h before clinical onset)",
        },
    )
    model = TrainedModel(classifier, slope, intercept, manifest)
    progress("[4/5] held-out test patients")
    held_out = metrics(y[test_rows], model.probabilities(x[test_rows]))
    manifest.metrics.update(
        {
            "test_auroc": held_out.auroc,
            "test_auprc": held_out.auprc,
            "test_calibration_slope": held_out.calibration_slope,
            "test_calibration_intercept": held_out.calibration_intercept,
            "test_brier": held_out.brier,
            "train_rows": float(fit_rows.sum()),
            "test_rows": float(test_rows.sum()),
        }
    )
    progress(f"[5/5] done in {time.monotonic() - started:.0f} s: test AUROC {held_out.auroc:.3f}")
    return model
