"""Training is reproducible bit for bit; a model is refused unless it fits this code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from scoring.model import MANIFEST_FILE, MODEL_FILE, ModelMismatch, load_model
from scoring.physionet import read_challenge_psv, sha256_of
from scoring.score import QualitativeRisk, probabilities, score
from scoring.stay_features import FEATURE_NAMES, stay_features


@pytest.fixture(scope="module")
def trained(setA_excerpt: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two trainings of the same data and seed through `carebot score train`."""
    outs = []
    for run in ("a", "b"):
        out = tmp_path_factory.mktemp(f"model_{run}")
        argv = [
            "score",
            "train",
            "--data",
            str(setA_excerpt),
            "--out",
            str(out),
            "--max-iter",
            "30",
        ]
        assert main(argv) == 0
        outs.append(out)
    return outs[0], outs[1]


def test_two_trainings_give_identical_bytes(trained: tuple[Path, Path], setA_excerpt: Path) -> None:
    a, b = trained
    assert (a / MODEL_FILE).read_bytes() == (b / MODEL_FILE).read_bytes()
    assert (a / MANIFEST_FILE).read_bytes() == (b / MANIFEST_FILE).read_bytes()
    manifest = json.loads((a / MANIFEST_FILE).read_text())
    assert manifest["features"] == list(FEATURE_NAMES)
    assert manifest["training_data_sha256"] == sha256_of(setA_excerpt)
    data = read_challenge_psv(setA_excerpt)
    x = stay_features(data.rows)
    np.testing.assert_array_equal(probabilities(load_model(a), x), probabilities(load_model(b), x))


def test_score_explains_in_words(trained: tuple[Path, Path], setA_excerpt: Path) -> None:
    model = load_model(trained[0])
    data = read_challenge_psv(setA_excerpt)
    x = stay_features(data.rows)
    p = probabilities(model, x)
    i = int(np.argmax(p))
    result = score(model, x[i])
    assert result.probability == pytest.approx(p[i])
    assert result.risk is (
        QualitativeRisk.HIGH if p[i] >= model.manifest.threshold else result.risk
    )
    assert len(result.contributions) == 3
    assert abs(result.contributions[0].delta) >= abs(result.contributions[2].delta)
    assert " the risk by " in result.contributions[0].words


def _rewrite_manifest(directory: Path, **changes: object) -> None:
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest.update(changes)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for name in (MODEL_FILE, MANIFEST_FILE):
        (target / name).write_bytes((source / name).read_bytes())
    return target


def test_other_features_are_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(trained[0], tmp_path / "m")
    _rewrite_manifest(copy, features=list(FEATURE_NAMES[:-1]))
    with pytest.raises(ModelMismatch, match="trained on other features"):
        load_model(copy)


def test_other_sklearn_version_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    copy = _copy(trained[0], tmp_path / "m")
    _rewrite_manifest(copy, sklearn_version="0.24.2")
    with pytest.raises(ModelMismatch, match=r"saved by scikit-learn 0\.24\.2"):
        load_model(copy)


def test_a_changed_model_file_is_refused_before_unpickling(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    copy = _copy(trained[0], tmp_path / "m")
    (copy / MODEL_FILE).write_bytes(b"not the model")
    with pytest.raises(ModelMismatch, match="does not match its manifest"):
        load_model(copy)


def test_predict_writes_a_row_per_input_row(
    trained: tuple[Path, Path], setA_excerpt: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "score",
                "predict",
                "--psv",
                str(setA_excerpt),
                "--out",
                str(out),
                "--model",
                str(trained[0]),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    source = setA_excerpt.read_text().splitlines()
    assert lines[0] == "patient,ICULOS,probability,news2"
    assert len(lines) == len(source)
    patient, iculos, probability, news2 = lines[1].split(",")
    assert (patient, iculos) == (source[1].split("|")[0], "1")
    assert 0.0 < float(probability) < 1.0 and news2.isdigit()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty file"),
        ("patient,HR\np1,80\n", "not pipe-separated"),
        ("patient|HR\np1|80\n", "missing columns"),
    ],
)
def test_predict_bad_input_one_line_exit_2(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    fragment: str,
) -> None:
    bad = tmp_path / "bad.psv"
    bad.write_text(text)
    out = tmp_path / "out.csv"
    assert (
        main(["score", "predict", "--psv", str(bad), "--out", str(out), "--model", str(trained[0])])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not out.exists()
