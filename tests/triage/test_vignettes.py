"""carebot's own vignette set: at least 90% exact level, and every emergency caught."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dialogs.base import Language
from dialogs.triage import Level, VitalKind, VitalReading, assess

_FILE = Path(__file__).with_name("vignettes.yaml")


@dataclass(frozen=True)
class Vignette:
    id: str
    text: str
    expected: Level
    language: Language
    device: tuple[VitalReading, ...]


def _load() -> list[Vignette]:
    raw = yaml.safe_load(_FILE.read_text("utf-8"))["vignettes"]
    return [
        Vignette(
            id=item["id"],
            text=item["text"],
            expected=Level(item["expected"]),
            language="fr" if item["id"].startswith("fr-") else "en",
            device=tuple(
                VitalReading(VitalKind(d["kind"]), float(d["value"]), source="device")
                for d in item.get("device", ())
            ),
        )
        for item in raw
    ]


VIGNETTES = _load()


def test_the_set_is_big_and_balanced() -> None:
    assert len(VIGNETTES) >= 60
    assert {v.expected for v in VIGNETTES} == set(Level)
    assert {v.language for v in VIGNETTES} == {"en", "fr"}
    assert sum(1 for v in VIGNETTES if v.device) >= 8
    assert len({v.id for v in VIGNETTES}) == len(VIGNETTES)


def test_at_least_90_percent_exact() -> None:
    results = [assess(v.text, language=v.language, device_vitals=v.device) for v in VIGNETTES]
    wrong = [
        (v.id, r.level.value, v.expected.value)
        for v, r in zip(VIGNETTES, results, strict=True)
        if r.level is not v.expected
    ]
    assert len(wrong) <= 0.10 * len(VIGNETTES), wrong


@pytest.mark.parametrize(
    "vignette", [v for v in VIGNETTES if v.expected.is_emergency], ids=lambda v: v.id
)
def test_every_emergency_is_caught(vignette: Vignette) -> None:
    result = assess(vignette.text, language=vignette.language, device_vitals=vignette.device)
    assert result.level.is_emergency, [r.rule for r in result.reasons]
    assert result.red_flags, "an emergency must name its red flag"
