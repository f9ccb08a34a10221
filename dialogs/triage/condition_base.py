"""Conditions as data: each with its urgency, threshold, weighted findings and a citation.

`conditions.yaml` lists candidate conditions (ACS, sepsis, common cold...). A condition's
log-odds start at `prior` and add the weight of every finding `for` it that is present,
subtract the weight of every finding `against` it that is present, and subtract the weight
of every finding in `denied` that the text explicitly negates ("no neck stiffness"). The
reasoner (`reasoner.py`) turns the sum into a likelihood; the condition counts when that
passes its `threshold` (can't-miss conditions have low ones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialogs.triage.levels import Level
from dialogs.triage.models import Sex

Text = dict[str, str]


@dataclass(frozen=True)
class Condition:
    """One candidate condition and the evidence for and against it."""

    id: str
    name: Text
    level: Level
    threshold: float
    prior: float
    cite: str
    weights_for: tuple[tuple[str, float], ...]
    weights_against: tuple[tuple[str, float], ...] = ()
    weights_denied: tuple[tuple[str, float], ...] = ()
    # At least one of these must be present for the condition to be considered at all.
    requires: frozenset[str] = frozenset()
    age_min: float | None = None
    age_max: float | None = None
    sex: Sex | None = None
    duration_max_hours: float | None = None
    duration_min_hours: float | None = None
    # Self-limiting conditions: the findings they account for, which then ask for no visit.
    explains: frozenset[str] = frozenset()

    @property
    def named_ids(self) -> frozenset[str]:
        """Every finding id the condition names."""
        return (
            frozenset(
                sid
                for pairs in (self.weights_for, self.weights_against, self.weights_denied)
                for sid, _ in pairs
            )
            | self.requires
            | self.explains
        )


def _text(raw: Any, where: str) -> Text:
    if not isinstance(raw, dict) or not {"en", "fr"} <= raw.keys():
        raise ValueError(f"{where}: needs an en and fr text")
    return {str(k): str(v) for k, v in raw.items()}


def _weights(raw: Any, where: str) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: weights must be a mapping of finding id to number")
    out = []
    for sid, weight in raw.items():
        if not isinstance(weight, int | float) or weight <= 0:
            raise ValueError(f"{where}: weight of {sid!r} must be a positive number")
        out.append((str(sid), float(weight)))
    return tuple(out)


def condition(item: dict[str, Any]) -> Condition:
    """One condition from its YAML mapping; a missing citation or bad threshold is an error."""
    cid = str(item["id"])
    cite = str(item.get("cite", "")).strip()
    if not cite:
        raise ValueError(f"condition {cid}: needs a citation")
    threshold = float(item["threshold"])
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"condition {cid}: threshold must lie between 0 and 1")
    return Condition(
        id=cid,
        name=_text(item["name"], cid),
        level=Level(item["level"]),
        threshold=threshold,
        prior=float(item.get("prior", -3.0)),
        cite=cite,
        weights_for=_weights(item.get("for"), f"{cid}.for"),
        weights_against=_weights(item.get("against"), f"{cid}.against"),
        weights_denied=_weights(item.get("denied"), f"{cid}.denied"),
        requires=frozenset(str(x) for x in item.get("requires", ())),
        age_min=item.get("age_min"),
        age_max=item.get("age_max"),
        sex=Sex(item["sex"]) if item.get("sex") else None,
        duration_max_hours=item.get("duration_max_hours"),
        duration_min_hours=item.get("duration_min_hours"),
        explains=frozenset(str(x) for x in item.get("explains", ())),
    )


def conditions(raw: list[dict[str, Any]]) -> tuple[Condition, ...]:
    """Every condition of the file; an id given twice is an error."""
    out = tuple(condition(item) for item in raw)
    ids = [c.id for c in out]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"condition ids given twice: {twice}")
    return out
