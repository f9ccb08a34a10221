"""`carebot score evaluate`: the model against NEWS2 on held-out set-A patients, as a report.

Writes under the report directory: `report.json` (figures with 95% bootstrap intervals over
patients), `roc.png`, `calibration.png` and `MODEL_CARD.md`. NEWS2 is an integer score,
not a probability: for its calibration figures it is mapped to a probability by a
logistic fit on the calibration patients (the same patients the model was calibrated on).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from scoring.challenge_news2 import news2_of_rows
from scoring.metrics import (
    Interval,
    Metrics,
    auroc_intervals,
    fit_logistic,
    metrics,
    slope_interval,
)
from scoring.model import TrainedModel
from scoring.physionet import ChallengeRows
from scoring.score import probabilities
from scoring.stay_features import Floats, stay_features
from scoring.training import mask_of, split_patients

CITATION = (
    "Reyna MA, Josef CS, Jeter R, Shashikumar SP, Westover MB, Nemati S, Clifford GD, "
    "Sharma A. Early Prediction of Sepsis From Clinical Data: The PhysioNet/Computing in "
    "Cardiology Challenge 2019. Crit Care Med. 2020;48(2):210-217. doi:10.13026/v64v-d857."
)


@dataclass(frozen=True)
class Evaluation:
    """The figures of the report."""

    rows: int
    patients: int
    positives: int
    model: Metrics
    news2: Metrics
    model_auroc: Interval
    news2_auroc: Interval
    auroc_difference: Interval
    model_calibration_slope: Interval
    replicates: int


def evaluate(
    model: TrainedModel, data: ChallengeRows, replicates: int = 200
) -> tuple[Evaluation, dict[str, Floats]]:
    """The model and NEWS2 on the test patients of the model's own split."""
    if data.label is None:
        raise ValueError("evaluation needs SepsisLabel")
    split = split_patients(data.patient_ids, model.manifest.seed)
    test, calibration = mask_of(data, split.test), mask_of(data, split.calibration)
    x = stay_features(data.rows)
    news2 = news2_of_rows(data)
    y = data.label[test]
    p = probabilities(model, x[test])
    slope, intercept = fit_logistic(news2[calibration], data.label[calibration])
    news2_p = 1.0 / (1.0 + np.exp(-(intercept + slope * news2[test])))
    patients = np.array(data.patients)[test]
    _, groups = np.unique(patients, return_inverse=True)
    groups = groups.astype(np.int64)
    a, b, d = auroc_intervals(y, p, news2[test], groups, replicates, model.manifest.seed)
    result = Evaluation(
        rows=int(test.sum()),
        patients=len(split.test),
        positives=int(y.sum()),
        model=metrics(y, p),
        news2=metrics(y, news2_p),
        model_auroc=a,
        news2_auroc=b,
        auroc_difference=d,
        model_calibration_slope=slope_interval(y, p, groups, replicates, model.manifest.seed),
        replicates=replicates,
    )
    return result, {"y": y, "model": p, "news2": news2[test], "news2_probability": news2_p}


def _plots(curves: dict[str, Floats], directory: Path) -> None:
    y = curves["y"]
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, key in (("model", "model"), ("NEWS2", "news2")):
        fpr, tpr, _ = roc_curve(y, curves[key])
        axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, held-out set-A patients")
    axes.legend()
    figure.savefig(directory / "roc.png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, key in (("model", "model"), ("NEWS2 (logistic)", "news2_probability")):
        p = curves[key]
        edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
        mean_p = [p[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
        mean_y = [y[bins == b].mean() for b in range(len(edges) - 1) if (bins == b).any()]
        axes.plot(mean_p, mean_y, marker="o", label=name)
    top = float(max(curves["model"].max(), 0.05))
    axes.plot([0, top], [0, top], color="grey", linestyle=":")
    axes.set(xlabel="predicted probability", ylabel="observed rate", title="Calibration (deciles)")
    axes.legend()
    figure.savefig(directory / "calibration.png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def model_card(model: TrainedModel, result: Evaluation) -> str:
    """The model card in Markdown."""
    m = model.manifest
    return f"""# Model card: carebot deterioration model

## What it is
A scikit-learn HistGradientBoostingClassifier with Platt recalibration that gives, for each
hour of a monitored stay, the probability that `SepsisLabel` is 1 (sepsis within about 6
hours, or ongoing). {len(m.features)} features built only from what devices and the record
give: heart rate, SpO2, temperature, systolic, diastolic and mean pressure, respiratory
rate (this hour, last value, hours since it, rolling mean/min/max/sd/slope over 6, 12 and
24 h, change from the stay's own mean), shock index, pulse pressure, a partial NEWS2, age,
sex and hours since monitoring began. No laboratory values, no unit flags.

Trained with scikit-learn {m.sklearn_version}, seed {m.seed}; training data SHA-256
`{m.training_data_sha256}`. Alert threshold {m.threshold:.4f} ({m.notes.get("threshold", "")}).

## Data: provenance and licence
PhysioNet/CinC Challenge 2019, training set A (one hospital system's ICU stays), licensed
under Creative Commons Attribution 4.0 (CC BY 4.0). Cite: {CITATION}
Split by patient: {m.notes.get("split", "")}; never-septic training patients kept at a
fraction of {m.notes.get("negative_fraction", "")}.

## Held-out set-A patients ({result.patients} patients, {result.rows} hours, {result.positives} positive hours)
| | model | NEWS2 (no consciousness; FiO2 > 0.21 as oxygen) |
|---|---|---|
| AUROC (95% CI, {result.replicates} patient bootstrap draws) | {result.model_auroc.text()} | {result.news2_auroc.text()} |
| AUPRC | {result.model.auprc:.3f} | {result.news2.auprc:.3f} |
| calibration slope | {result.model_calibration_slope.text()} | {result.news2.calibration_slope:.3f} (logistic map) |
| calibration intercept | {result.model.calibration_intercept:.3f} | {result.news2.calibration_intercept:.3f} |
| Brier score | {result.model.brier:.4f} | {result.news2.brier:.4f} |

AUROC difference, model minus NEWS2: {result.auroc_difference.text()}.

## Intended use
A research aid that ranks monitored patients by the risk of deterioration (sepsis-like),
so that a care team looks first at those whose vitals over time are most worrying. It
raises a Flag for people to review; it does not diagnose, and it does not replace NEWS2
or clinical judgement.

## Limits
- Adult ICU data from one hospital system, hourly charted vitals: not home patients, not
  children, not per-minute device streams. Validate on the other hospital system (set B)
  and on home-monitoring data before relying on it.
- The label is the challenge's sepsis definition (Sepsis-3, onset shifted 6 h earlier);
  other kinds of deterioration are not what it learnt.
- Measurement frequency carries information in ICU data (sicker patients are measured
  more often); at home it means something else.
- Probabilities are calibrated to set A's prevalence; another population needs recalibration.
"""


def write_report(
    model: TrainedModel, data: ChallengeRows, directory: Path, replicates: int = 200
) -> Evaluation:
    """Evaluate and write report.json, roc.png, calibration.png and MODEL_CARD.md."""
    directory.mkdir(parents=True, exist_ok=True)
    result, curves = evaluate(model, data, replicates)
    (directory / "report.json").write_text(
        json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8"
    )
    _plots(curves, directory)
    (directory / "MODEL_CARD.md").write_text(model_card(model, result), encoding="utf-8")
    return result
