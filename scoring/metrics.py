"""Discrimination and calibration, with bootstrap intervals over patients.

Rows of one patient are not independent, so the bootstrap draws patients (with
replacement) and takes all their rows. Calibration slope and intercept are those of a
logistic regression of the outcome on the logit of the predicted probability (Cox 1958):
slope 1 and intercept 0 for a calibrated model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from scoring.stay_features import Floats

_EPS = 1e-6


def logit(p: Floats) -> Floats:
    """log(p / (1 - p)), clipped away from 0 and 1."""
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def fit_logistic(x: Floats, y: Floats) -> tuple[float, float]:
    """(slope, intercept) of an unpenalised logistic regression of Y on one predictor X."""
    fit = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=200)
    fit.fit(x.reshape(-1, 1), y.astype(np.int64))
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


@dataclass(frozen=True)
class Metrics:
    """One model's figures on one set of rows."""

    auroc: float
    auprc: float
    calibration_slope: float
    calibration_intercept: float
    brier: float


def metrics(y: Floats, probability: Floats) -> Metrics:
    """AUROC, AUPRC, calibration slope/intercept and Brier score of PROBABILITY for Y."""
    slope, intercept = fit_logistic(logit(probability), y)
    return Metrics(
        auroc=float(roc_auc_score(y, probability)),
        auprc=float(average_precision_score(y, probability)),
        calibration_slope=slope,
        calibration_intercept=intercept,
        brier=float(brier_score_loss(y, probability)),
    )


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% bootstrap percentile interval."""

    estimate: float
    low: float
    high: float

    def text(self, digits: int = 3) -> str:
        """'0.812 (0.801-0.823)'."""
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def patient_bootstrap(
    groups: npt.NDArray[np.int64], replicates: int, seed: int
) -> list[npt.NDArray[np.int64]]:
    """REPLICATES row-index arrays, each all rows of patients drawn with replacement (GROUPS
    holds each row's patient number 0..n-1)."""
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(replicates):
        chosen = rng.integers(0, counts.shape[0], counts.shape[0])
        lengths = counts[chosen]
        first = np.cumsum(lengths) - lengths  # where each drawn patient's rows begin
        within = np.arange(int(lengths.sum())) - np.repeat(first, lengths)
        draws.append(order[np.repeat(starts[chosen], lengths) + within])
    return draws


def interval(values: list[float], estimate: float) -> Interval:
    """The 2.5th and 97.5th percentiles of VALUES around ESTIMATE."""
    bounds = np.percentile(np.asarray(values), [2.5, 97.5])
    return Interval(estimate, float(bounds[0]), float(bounds[1]))


def auroc_intervals(
    y: Floats,
    model: Floats,
    baseline: Floats,
    groups: npt.NDArray[np.int64],
    replicates: int = 200,
    seed: int = 0,
) -> tuple[Interval, Interval, Interval]:
    """AUROC of MODEL, of BASELINE, and MODEL minus BASELINE (paired: the same draws)."""
    a, b, d = [], [], []
    for rows in patient_bootstrap(groups, replicates, seed):
        if y[rows].min() == y[rows].max():
            continue
        ra = float(roc_auc_score(y[rows], model[rows]))
        rb = float(roc_auc_score(y[rows], baseline[rows]))
        a.append(ra)
        b.append(rb)
        d.append(ra - rb)
    ea, eb = float(roc_auc_score(y, model)), float(roc_auc_score(y, baseline))
    return interval(a, ea), interval(b, eb), interval(d, ea - eb)


def slope_interval(
    y: Floats, probability: Floats, groups: npt.NDArray[np.int64], replicates: int, seed: int
) -> Interval:
    """The calibration slope of PROBABILITY with its bootstrap interval."""
    z = logit(probability)
    values = [
        fit_logistic(z[rows], y[rows])[0] for rows in patient_bootstrap(groups, replicates, seed)
    ]
    return interval(values, fit_logistic(z, y)[0])
