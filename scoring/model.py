"""The deterioration model on disk: a joblib file and a JSON manifest checked on load.

    model = load_model()              # the model shipped in scoring/model/
    save_model(model, directory)      # MODEL_FILE + MANIFEST_FILE

The manifest names the features and their order, the scikit-learn version, the SHA-256 of
the training data and of the model file, the seed, the metrics and the alert threshold.
`load_model` refuses, with `ModelMismatch` and one clear sentence, a model whose features
differ from `FEATURE_NAMES`, saved by another scikit-learn version, or whose file does not
match its manifest's digest (it is checked before anything is unpickled).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from threadpoolctl import ThreadpoolController

from scoring.stay_features import FEATURE_NAMES, Floats

FORMAT = "carebot-deterioration-model/1"
SHIPPED_DIR = Path(__file__).parent / "model"
MODEL_FILE = "deterioration.joblib"
MANIFEST_FILE = "deterioration.json"


class ModelMismatch(ValueError):
    """A saved model this code must not use."""


@dataclass(frozen=True)
class Manifest:
    """What the model is, what it was trained on, and how it did."""

    features: tuple[str, ...]
    sklearn_version: str
    training_data_sha256: str
    seed: int
    threshold: float
    metrics: dict[str, float] = field(default_factory=dict)
    reference: tuple[float, ...] = ()
    """A typical value per feature (training medians, NaN where none): explanations compare
    against them."""
    model_sha256: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON (NaN written as null)."""
        return {
            "format": FORMAT,
            "features": list(self.features),
            "sklearn_version": self.sklearn_version,
            "training_data_sha256": self.training_data_sha256,
            "seed": self.seed,
            "threshold": self.threshold,
            "metrics": self.metrics,
            "reference": [None if math.isnan(v) else v for v in self.reference],
            "model_sha256": self.model_sha256,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """A manifest read back; ModelMismatch for another format."""
        if data.get("format") != FORMAT:
            raise ModelMismatch(f"not a {FORMAT} manifest")
        return cls(
            features=tuple(data["features"]),
            sklearn_version=str(data["sklearn_version"]),
            training_data_sha256=str(data["training_data_sha256"]),
            seed=int(data["seed"]),
            threshold=float(data["threshold"]),
            metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
            reference=tuple(math.nan if v is None else float(v) for v in data["reference"]),
            model_sha256=str(data.get("model_sha256", "")),
            notes={str(k): str(v) for k, v in data.get("notes", {}).items()},
        )


PARALLEL_FROM_ROWS = 4096
"""Fewer rows than this are predicted on one thread."""


@functools.cache
def _threads() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass
class TrainedModel:
    """A classifier and the logistic recalibration of its log-odds (Platt scaling fitted on
    patients held out from training)."""

    classifier: Any
    calibration_slope: float
    calibration_intercept: float
    manifest: Manifest

    def raw_log_odds(self, features: Floats) -> Floats:
        """The classifier's log-odds for each row. A few rows (a worker's patient) are
        predicted on one OpenMP thread: handing them to a team of threads costs far more
        than the trees, above all on a busy machine (0.45 s against 0.011 s for 11 rows
        measured here under load)."""
        if len(features) >= PARALLEL_FROM_ROWS:
            return np.asarray(self.classifier.decision_function(features), dtype=np.float64)
        with _threads().limit(limits=1, user_api="openmp"):
            odds = self.classifier.decision_function(features)
        return np.asarray(odds, dtype=np.float64)

    def probabilities(self, features: Floats) -> Floats:
        """Calibrated probabilities, one per row of FEATURES (columns as FEATURE_NAMES)."""
        if features.ndim != 2 or features.shape[1] != len(self.manifest.features):
            raise ValueError(f"expected {len(self.manifest.features)} feature columns")
        z = self.calibration_intercept + self.calibration_slope * self.raw_log_odds(features)
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _model_bytes(model: TrainedModel) -> bytes:
    buffer = io.BytesIO()
    payload = (model.classifier, model.calibration_slope, model.calibration_intercept)
    joblib.dump(payload, buffer, compress=3)
    return buffer.getvalue()


def save_model(model: TrainedModel, directory: Path) -> Path:
    """Write MODEL_FILE and MANIFEST_FILE under DIRECTORY; the model file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    blob = _model_bytes(model)
    manifest = model.manifest.to_json()
    manifest["model_sha256"] = hashlib.sha256(blob).hexdigest()
    (directory / MODEL_FILE).write_bytes(blob)
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    (directory / MANIFEST_FILE).write_text(text, encoding="utf-8")
    return directory / MODEL_FILE


def load_model(directory: Path = SHIPPED_DIR) -> TrainedModel:
    """The model saved under DIRECTORY; ModelMismatch when this code must not use it."""
    try:
        manifest_json = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
        blob = (directory / MODEL_FILE).read_bytes()
    except FileNotFoundError as error:
        raise ModelMismatch(f"no model in {directory}: run `carebot score train`") from error
    manifest = Manifest.from_json(manifest_json)
    if manifest.features != FEATURE_NAMES:
        raise ModelMismatch(
            f"the model in {directory} was trained on other features "
            f"({len(manifest.features)} named, {len(FEATURE_NAMES)} expected): retrain it"
        )
    if manifest.sklearn_version != sklearn.__version__:
        raise ModelMismatch(
            f"the model in {directory} was saved by scikit-learn {manifest.sklearn_version}, "
            f"this is {sklearn.__version__}: retrain it with `carebot score train`"
        )
    if hashlib.sha256(blob).hexdigest() != manifest.model_sha256:
        raise ModelMismatch(f"the model file in {directory} does not match its manifest")
    classifier, slope, intercept = joblib.load(io.BytesIO(blob))
    return TrainedModel(classifier, float(slope), float(intercept), manifest)
