"""The learned text model: its file, its pure-Python inference, the blend's safety limits,
reproducible training, and its use by `assess` and `carebot triage`."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.settings import Settings
from bot.triage_text import triage_text_model
from dialogs.triage import Level, Reason, TriageResult, assess
from dialogs.triage import text_training as training
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.normalise import normalise
from dialogs.triage.scopes import context_scopes
from dialogs.triage.text_blend import RULE, decide, protected
from dialogs.triage.text_model import (
    DEFAULT_PATH,
    MAX_CHARS,
    OUTCOMES,
    TextModelError,
    Thresholds,
    load_text_model,
    model_from_json,
    read_text_model,
    text_terms,
)

_RAW: dict[str, Any] = json.loads(DEFAULT_PATH.read_text("utf-8"))


def _terms(text: str) -> list[str]:
    norm = normalise(text)
    return text_terms(norm, context_scopes(norm, load_knowledge().context))


# -- the model file -------------------------------------------------------------------------


def test_shipped_model_loads_is_small_and_names_its_training_data() -> None:
    model = load_text_model()
    assert DEFAULT_PATH.stat().st_size < 5_000_000
    assert len(model.terms) > 1000 and model.trained_on > 1000
    th = model.thresholds
    assert 0.5 <= th.emergency <= 1.01 and th.min_words >= 10
    files = [training.REPO / f for f in _RAW["trained_files"]]
    assert not any(part in ("test", "blind") for f in files for part in f.parts[-2:-1])
    assert not any(f.name in training._VALIDATION and f.parent.name == "dev" for f in files)
    # The shipped weights come from the training files as they are now: retrain when they change.
    assert model.training_sha256 == training.data_sha256(files)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 99}, "version 99"),
        ({"features": "words-v0"}, "words-v0"),
        ({"format": "something-else"}, "format"),
        ({"outcomes": ["emergency", "self_care"]}, "outcomes"),
        ({"thresholds": {"emergency": 0.9}}, "thresholds"),
        ({"intercept": [0.0]}, "intercept"),
        ({"terms": {"chest": [1.0, 2.0]}}, "chest"),
    ],
)
def test_a_model_of_other_features_or_shape_is_refused(
    change: dict[str, Any], message: str
) -> None:
    raw = copy.deepcopy(_RAW)
    raw.update(change)
    with pytest.raises(TextModelError, match=message):
        model_from_json(raw)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TextModelError, match=r"nothing\.json"):
        read_text_model(tmp_path / "nothing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", "utf-8")
    with pytest.raises(TextModelError, match=r"broken\.json"):
        read_text_model(broken)
    with pytest.raises(TextModelError, match="not a JSON object"):
        model_from_json([1, 2])


# -- features and inference -------------------------------------------------------------------


def test_terms_carry_the_engine_scope() -> None:
    terms = _terms(
        "No chest pain. History of asthma. Return if wheezing. His mother had a stroke at 60."
    )
    assert {"no:chest", "no:pain", "no:chest no:pain"} <= set(terms)
    assert "past:asthma" in terms and "if:wheezing" in terms and "other:stroke" in terms
    assert "chest" not in terms and "pain asthma" not in " ".join(terms)  # no pair across sentences
    assert "chest pain" in " ".join(_terms("Crushing chest pain for an hour"))


def test_pure_python_inference_equals_sklearn() -> None:
    examples = training.load_examples(training.training_files())[::4]
    docs = training.document_terms(examples)
    vectoriser, fitted = training.fit(docs, [e.outcome for e in examples], 10.0)
    raw = training.weights_json(vectoriser, fitted)
    raw.update(
        training_sha256="0" * 64,
        trained_on=len(examples),
        thresholds={"emergency": 0.8, "visit": 0.9, "self_care": 0.9, "min_words": 16},
    )
    model = model_from_json(raw)
    sample = [*docs[:40], _terms("A brand new text with words the model has never seen: zyx")]
    expected = fitted.predict_proba(vectoriser.transform(sample))
    for doc, row in zip(sample, expected, strict=True):
        got = model.probabilities(doc)
        assert [got[o] for o in OUTCOMES] == pytest.approx(list(row), abs=1e-4)


# -- the blend's safety limits ----------------------------------------------------------------

_REASONS = [
    Reason("default", Level.CONSULTATION, "a complaint to review"),
    Reason("rule.cough_long", Level.CONSULTATION, "a long cough"),
    Reason("rule.uti", Level.CONSULTATION_24, "urinary symptoms"),
    Reason("rule.cold", Level.SELF_CARE, "a cold"),
    Reason("condition.viral_uri", Level.SELF_CARE, "a cold, self-limiting"),
    Reason("condition.pneumonia", Level.CONSULTATION_24, "pneumonia"),
    Reason("vital.spo2_low", Level.CONSULTATION_24, "low oxygen"),
    Reason("news2", Level.CONSULTATION_24, "NEWS2 5"),
    Reason("rule.headache_flag", Level.CONSULTATION, "worst headache", red_flag=True),
    Reason("rule.acs", Level.EMERGENCY_AMBULANCE, "chest pain", red_flag=True),
    Reason("condition.sepsis", Level.EMERGENCY, "sepsis"),
]
_THRESHOLDS = Thresholds(emergency=0.8, visit=0.85, self_care=0.75, min_words=16)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[TriageResult, dict[str, float], int]:
    reasons = draw(st.lists(st.sampled_from(_REASONS), max_size=4, unique=True))
    level = max((r.level for r in reasons), key=lambda x: x.rank, default=Level.CONSULTATION)
    weights = draw(st.lists(st.floats(0.001, 1.0), min_size=3, max_size=3))
    probs = {o: w / sum(weights) for o, w in zip(OUTCOMES, weights, strict=True)}
    words = draw(st.integers(0, 60))
    return TriageResult(level, tuple(reasons), ()), probs, words


@settings(max_examples=400, deadline=None)
@given(_cases())
def test_the_blend_never_lowers_a_protected_outcome(
    case: tuple[TriageResult, dict[str, float], int],
) -> None:
    result, probs, words = case
    out = decide(result, probs, words, _THRESHOLDS, citation="model v1")
    held = [r for r in result.reasons if protected(r) and r.level is not Level.SELF_CARE]
    if out.level.rank < result.level.rank:
        assert not held, "lowered below a protected reason"
        assert not result.level.is_emergency
        assert result.level in (Level.CONSULTATION, Level.CONSULTATION_24)
        assert out.level is Level.SELF_CARE
        assert probs["self_care"] >= _THRESHOLDS.self_care
    if words < _THRESHOLDS.min_words:
        assert out == result
    if out.level is not result.level:
        added = [r for r in out.reasons if r.rule == RULE]
        assert len(added) == 1 and added[0].level is out.level
        assert added[0].citation == "model v1" and "text model" in added[0].text
        assert set(result.reasons) <= set(out.reasons)
    else:
        assert out == result
    assert decide(result, probs, words, _THRESHOLDS, citation="model v1") == out


def test_the_blend_raises_and_lowers_within_its_limits() -> None:
    soft = TriageResult(Level.CONSULTATION, (_REASONS[0],), ())
    sure_self_care = {"emergency": 0.02, "see_doctor": 0.08, "self_care": 0.9}
    lowered = decide(soft, sure_self_care, 20, _THRESHOLDS, language="fr", trained_on=9)
    assert lowered.level is Level.SELF_CARE and lowered.reasons[0].rule == RULE
    assert "modèle de texte" in lowered.reasons[0].text and "0.90" in lowered.reasons[0].text
    held = TriageResult(Level.CONSULTATION_24, (_REASONS[6],), ())
    assert decide(held, sure_self_care, 20, _THRESHOLDS) == held
    sure_emergency = {"emergency": 0.9, "see_doctor": 0.05, "self_care": 0.05}
    selfcare = TriageResult(Level.SELF_CARE, (_REASONS[3],), ())
    raised = decide(selfcare, sure_emergency, 20, _THRESHOLDS)
    assert raised.level is Level.EMERGENCY and raised.red_flags
    assert decide(selfcare, sure_emergency, 15, _THRESHOLDS) == selfcare  # too short


# -- training -----------------------------------------------------------------------------------


def test_training_takes_the_train_split_and_nothing_held_out(tmp_path: Path) -> None:
    root = tmp_path
    (root / "tests" / "triage" / "sets" / "train").mkdir(parents=True)
    (root / "tests" / "triage" / "sets" / "train" / "x.yaml").write_text("", "utf-8")
    assert [p.name for p in training.training_files(root)][-2:] == ["x.yaml", "vignettes.yaml"]
    assert all(p.parent.name not in ("test", "blind") for p in training.training_files(root))
    assert not {p.name for p in training.training_files(root)} & set(training._VALIDATION)


def test_training_is_reproducible() -> None:
    examples = training.load_examples(training.training_files())[::12]
    first = training.train(examples, "f" * 64)
    second = training.train(examples, "f" * 64)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    model_from_json(first)


# -- in the engine and the CLI ------------------------------------------------------------------


def test_assess_uses_the_model_only_when_given() -> None:
    text = (
        "My 4 year old has had a runny nose and a mild cough for two days. She is eating and "
        "drinking well, playing as usual, no fever, no rash, no trouble breathing."
    )
    plain = assess(text)
    blended = assess(text, text_model=load_text_model())
    assert all(r.rule != RULE for r in plain.reasons)
    if blended.level is not plain.level:
        assert any(r.rule == RULE for r in blended.reasons)
    assert triage_text_model(Settings(triage_text_model=False)) is None
    assert triage_text_model(Settings()) is load_text_model()


def test_vignettes_still_pass_with_the_model() -> None:
    from tests.triage.test_vignettes import VIGNETTES

    model = load_text_model()
    results = [
        assess(v.text, language=v.language, device_vitals=v.device, text_model=model)
        for v in VIGNETTES
    ]
    exact = sum(r.level is v.expected for v, r in zip(VIGNETTES, results, strict=True))
    assert exact >= 0.99 * len(VIGNETTES)
    missed = [
        v.id
        for v, r in zip(VIGNETTES, results, strict=True)
        if v.expected.is_emergency and not r.level.is_emergency
    ]
    assert missed == []


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    from bot.cli import main

    assert main(argv) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def test_carebot_triage_blends_the_model_unless_the_setting_is_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "I have a mild cough and my chest feels a bit tight with a cold, no wheezing, "
        "no shortness of breath, I'm 30."
    )
    blended = _cli(["triage", "--json", "--", text], capsys)
    assert blended["level"] == "self_care"
    assert blended["reasons"][0]["rule"] == RULE and blended["reasons"][0]["citation"]
    monkeypatch.setenv("CAREBOT_TRIAGE_TEXT_MODEL", "false")
    plain = _cli(["triage", "--json", "--", text], capsys)
    assert plain["level"] == "consultation_24"
    assert all(r["rule"] != RULE for r in plain["reasons"])


def test_french_reasons_name_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "Fillette de 4 ans, mal à l'oreille droite depuis cette nuit avec une fièvre à 38,5, "
        "elle se tient l'oreille."
    )
    out = _cli(["triage", "--json", "--lang", "fr", "--", text], capsys)
    assert out["level"] == "consultation"
    assert "modèle de texte" in out["reasons"][0]["text"]


def test_the_model_does_not_send_a_reasoned_self_limiting_illness_to_a_visit() -> None:
    """Self-care that a passing self-limiting condition holds up is not raised by the words."""
    cold = TriageResult(
        level=Level.SELF_CARE,
        reasons=(Reason("condition.common_cold", Level.SELF_CARE, "possible common cold"),),
        findings=(),
        self_limiting=True,
    )
    plain = replace(cold, self_limiting=False)
    worried = {"emergency": 0.1, "see_doctor": 0.85, "self_care": 0.05}
    limits = Thresholds(emergency=0.5, visit=0.55, self_care=0.7, min_words=16)
    assert decide(cold, worried, 40, limits).level is Level.SELF_CARE
    assert decide(plain, worried, 40, limits).level is Level.CONSULTATION
    alarmed = {"emergency": 0.9, "see_doctor": 0.05, "self_care": 0.05}
    assert decide(cold, alarmed, 40, limits).level is Level.EMERGENCY  # safety stays


def test_the_model_reads_a_bounded_prefix_of_a_huge_text() -> None:
    clause = "I do not have a fever, not a cough but a headache; "
    huge = clause * (3 * MAX_CHARS // len(clause))
    assert _terms(huge) == _terms(huge[: 2 * MAX_CHARS])  # the same terms: cost stays bounded
    assert len(_terms(huge)) < len(_terms(clause * 10)) * (MAX_CHARS // (len(clause) * 10) + 2)
