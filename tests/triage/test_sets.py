"""Format checks of the independent vignette sets in tests/triage/sets/ (not engine accuracy)."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

SETS = Path(__file__).parent / "sets"
SPLITS = ("dev", "test", "blind", "train")
OUTCOME_OF = {
    "emergency_ambulance": "emergency",
    "emergency": "emergency",
    "consultation_24": "see_doctor",
    "consultation": "see_doctor",
    "self_care": "self_care",
}
OUTCOMES = ("emergency", "see_doctor", "self_care")
LANGS = {"en", "fr"}
STYLES = {"clinical", "patient"}
AGE_GROUPS = {"infant", "child", "adult", "pregnancy", "older"}
SYSTEMS = {
    "cardiovascular",
    "respiratory",
    "neurological",
    "gastrointestinal",
    "genitourinary",
    "gynaecological",
    "obstetric",
    "musculoskeletal",
    "skin",
    "ent",
    "eye",
    "mental_health",
    "endocrine",
    "infection",
    "allergy",
    "injury",
    "haematological",
    "general",
}
FIELDS = {
    "id",
    "lang",
    "style",
    "age_group",
    "system",
    "expected",
    "disposition",
    "text",
    "rationale",
}
HEADER = {"split", "batch", "written_utc", "balance", "vignettes"}


def _files() -> list[Path]:
    return sorted(p for split in SPLITS for p in (SETS / split).glob("*.yaml"))


@cache
def _load(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    assert isinstance(data, dict), f"{path}: top level must be a mapping"
    return data


def _all() -> list[tuple[str, dict[str, Any]]]:
    return [(p.parent.name, v) for p in _files() for v in _load(p)["vignettes"]]


def test_there_are_sets() -> None:
    assert (SETS / "dev").is_dir() and _files()


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_batch_header_and_stated_balance(path: Path) -> None:
    data = _load(path)
    assert set(data) == HEADER, f"header keys: {sorted(data)}"
    assert data["split"] == path.parent.name
    vignettes = data["vignettes"]
    assert isinstance(vignettes, list) and vignettes
    counts = Counter(v["expected"] for v in vignettes)
    stated = data["balance"]
    assert set(stated) == set(OUTCOMES)
    assert {k: counts.get(k, 0) for k in OUTCOMES} == stated, "balance line is wrong"
    # no outcome is more than half of a batch, none is absent
    for outcome in OUTCOMES:
        assert 0 < counts[outcome] <= len(vignettes) / 2, (outcome, counts)


@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_vignette_is_well_formed(path: Path) -> None:
    data = _load(path)
    # Ids keep the split they were written for: only a spent blind batch moved to dev/ differs.
    written_for = str(data["batch"]).split("-")[0]
    assert written_for == path.parent.name or (written_for, path.parent.name) == ("blind", "dev")
    prefix = written_for + "-"
    for v in data["vignettes"]:
        assert set(v) == FIELDS, (v.get("id"), sorted(set(v) ^ FIELDS))
        assert v["lang"] in LANGS, v["id"]
        assert v["style"] in STYLES, v["id"]
        assert v["age_group"] in AGE_GROUPS, v["id"]
        assert v["system"] in SYSTEMS, v["id"]
        assert v["disposition"] in OUTCOME_OF, v["id"]
        assert OUTCOME_OF[v["disposition"]] == v["expected"], v["id"]
        assert isinstance(v["text"], str) and len(v["text"].split()) >= 8, v["id"]
        assert isinstance(v["rationale"], str) and len(v["rationale"]) >= 20, v["id"]
        assert str(v["id"]).startswith(prefix), v["id"]


def test_ids_and_texts_are_unique_across_all_sets() -> None:
    everything = _all()
    ids = Counter(v["id"] for _, v in everything)
    assert [i for i, n in ids.items() if n > 1] == []
    texts = Counter(" ".join(v["text"].lower().split()) for _, v in everything)
    assert [t[:60] for t, n in texts.items() if n > 1] == []


@pytest.mark.parametrize("split", ["dev", "test", "train"])
def test_split_balance(split: str) -> None:
    """Each outcome 25-42%, French 15-40%, clinical style 45-75%, every age group present."""
    vs = [v for s, v in _all() if s == split]
    if not vs:
        pytest.skip(f"{split}/ not written yet")
    n = len(vs)
    outcomes = Counter(v["expected"] for v in vs)
    for outcome in OUTCOMES:
        assert 0.25 <= outcomes[outcome] / n <= 0.42, (outcome, outcomes)
    fr = sum(v["lang"] == "fr" for v in vs) / n
    assert 0.15 <= fr <= 0.40, fr
    clinical = sum(v["style"] == "clinical" for v in vs) / n
    assert 0.45 <= clinical <= 0.75, clinical
    assert {v["age_group"] for v in vs} == AGE_GROUPS
    assert len({v["system"] for v in vs}) >= 12
