"""The medical knowledge, read once from the YAML files under `knowledge/` and cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import yaml

from dialogs.triage.condition_base import Condition, conditions
from dialogs.triage.context_rules import ContextRules, context_rules
from dialogs.triage.levels import Level
from dialogs.triage.models import VitalKind
from dialogs.triage.normalise import compile_phrase, normalise
from dialogs.triage.physiology import PHYSIOLOGY_IDS, PhysiologyLimits, physiology_limits

Text = dict[str, str]  # language -> words


@dataclass(frozen=True)
class Phrase:
    """One lexicon phrase: its regex and the word stems a text must hold for it to match."""

    source: str
    needs: tuple[str, ...]
    # The first word, when it is a plain word or stem ("vomit*"): matching is tried only
    # where a word of the text starts so, instead of scanning the whole text per phrase.
    first: str | None = None
    first_is_stem: bool = False

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex, made on first use (most phrases never meet a candidate text)."""
        return re.compile(self.source)


@dataclass(frozen=True)
class Symptom:
    """A symptom, sign, risk factor or context fact the lexicon recognises."""

    id: str
    name: Text
    phrases: tuple[Phrase, ...]
    snomed: str | None = None
    ask: Text | None = None  # the follow-up question, when it is worth asking
    modifier: bool = False  # onset, severity, risk factor: not a complaint by itself
    implies: frozenset[str] = frozenset()  # e.g. "pain under the right ribs" is belly pain
    masks: bool = False  # its words hide other findings inside them ("bouton de fièvre")


@dataclass(frozen=True)
class Rule:
    """Evidence that, when present together, puts the patient at LEVEL at least."""

    id: str
    level: Level
    reason: Text
    all: frozenset[str] = frozenset()
    any: frozenset[str] = frozenset()
    none: frozenset[str] = frozenset()
    age_min: float | None = None
    age_max: float | None = None
    duration_min_hours: float | None = None
    duration_max_hours: float | None = None
    red_flag: bool = False
    cite: str = ""
    # Findings the condition behind a rule accounts for: a self-care rule for piles explains
    # the blood on the paper, so that finding asks for no doctor by itself.
    explains: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VitalBand:
    """A range of one vital sign that is a finding (and maybe a level) by itself."""

    id: str
    kind: VitalKind
    name: Text
    reason: Text
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    level: Level | None = None
    red_flag: bool = False
    cite: str = ""
    snomed: str | None = None
    implies: frozenset[str] = frozenset()  # symptom ids the band makes present (fever)
    only_if: frozenset[str] = frozenset()  # context finding ids needed (e.g. age.infant)
    unless: frozenset[str] = frozenset()

    def contains(self, value: float) -> bool:
        """True when VALUE falls in the band."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class News2Band:
    """One row of the NEWS2 chart: a range of a parameter and its score."""

    kind: VitalKind
    score: int
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class News2Threshold:
    """An aggregate NEWS2 score at or above which a level applies."""

    min_score: int
    level: Level
    reason: Text


@dataclass(frozen=True)
class Knowledge:
    """Everything the engine knows."""

    symptoms: dict[str, Symptom]
    phrase_index: dict[str, tuple[tuple[str, Phrase], ...]]  # longest stem -> phrases
    rules: tuple[Rule, ...]
    vital_bands: tuple[VitalBand, ...]
    news2: tuple[News2Band, ...]
    news2_thresholds: tuple[News2Threshold, ...]
    news2_cite: str
    context: ContextRules
    default_reason: Text
    unknown_reason: Text
    physiology: PhysiologyLimits
    conditions: tuple[Condition, ...] = ()

    @cached_property
    def phrase_rank(self) -> dict[str, int]:
        """Each `phrase_index` key's place in the index, to try phrases in knowledge order."""
        return {key: rank for rank, key in enumerate(self.phrase_index)}


def _text(raw: Any, where: str) -> Text:
    if not isinstance(raw, dict) or not {"en", "fr"} <= raw.keys():
        raise ValueError(f"{where}: needs an en and fr text")
    return {str(k): str(v) for k, v in raw.items()}


def _ids(raw: Any) -> frozenset[str]:
    return frozenset(str(x) for x in (raw or ()))


_WORD = re.compile(r"\w+")


def _phrase(words: str) -> Phrase:
    needs = tuple(
        part
        for token in normalise(words).split(" ")
        if token not in ("~", "~~")
        for part in _WORD.findall(token.replace("*", ""))
    )
    head = _FIRST.match(normalise(words).split(" ")[0])
    if head is None:
        return Phrase(compile_phrase(words), needs)
    return Phrase(compile_phrase(words), needs, head.group(1), bool(head.group(2)))


_FIRST = re.compile(r"^(\w+)(\*?)$")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        twice = sorted({str(k) for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"{node.start_mark}: key given twice: {', '.join(twice)}")
        return super().construct_mapping(node, deep=deep)


def _load_yaml(name: str) -> Any:
    source = resources.files("dialogs.triage.knowledge").joinpath(name).read_text("utf-8")
    return yaml.load(source, Loader=_UniqueKeyLoader)


def _symptoms(raw: dict[str, Any]) -> dict[str, Symptom]:
    out: dict[str, Symptom] = {}
    for sid, item in raw.items():
        phrases = [*item.get("en", ()), *item.get("fr", ())]
        out[sid] = Symptom(
            id=sid,
            name=_text(item["name"], sid),
            phrases=tuple(_phrase(p) for p in dict.fromkeys(phrases)),
            snomed=str(item["snomed"]) if item.get("snomed") else None,
            ask=_text(item["ask"], sid) if item.get("ask") else None,
            modifier=bool(item.get("modifier", False)),
            implies=_ids(item.get("implies")),
            masks=bool(item.get("masks", False)),
        )
    return out


def _rule(item: dict[str, Any]) -> Rule:
    return Rule(
        id=str(item["id"]),
        level=Level(item["level"]),
        reason=_text(item["reason"], item["id"]),
        all=_ids(item.get("all")),
        any=_ids(item.get("any")),
        none=_ids(item.get("none")),
        age_min=item.get("age_min"),
        age_max=item.get("age_max"),
        duration_min_hours=item.get("duration_min_hours"),
        duration_max_hours=item.get("duration_max_hours"),
        red_flag=bool(item.get("red_flag", False)),
        cite=str(item.get("cite", "")),
        explains=_ids(item.get("explains")),
    )


def _band(item: dict[str, Any]) -> VitalBand:
    return VitalBand(
        id=str(item["id"]),
        kind=VitalKind(item["kind"]),
        name=_text(item["name"], item["id"]),
        reason=_text(item["reason"], item["id"]),
        low=item.get("low"),
        high=item.get("high"),
        level=Level(item["level"]) if item.get("level") else None,
        red_flag=bool(item.get("red_flag", False)),
        cite=str(item.get("cite", "")),
        snomed=str(item["snomed"]) if item.get("snomed") else None,
        implies=_ids(item.get("implies")),
        only_if=_ids(item.get("only_if")),
        unless=_ids(item.get("unless")),
    )


def _check(knowledge: Knowledge) -> None:
    """Every id a rule or band names must exist: a typo must not silently disable a rule."""
    known = set(knowledge.symptoms) | {f"vital.{b.id}" for b in knowledge.vital_bands}
    known |= CONTEXT_IDS | PHYSIOLOGY_IDS
    ids = [rule.id for rule in knowledge.rules]
    if len(ids) != len(set(ids)):
        raise ValueError(f"rule ids given twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    for rule in knowledge.rules:
        for sid in rule.all | rule.any | rule.none | rule.explains:
            if sid not in known:
                raise ValueError(f"rule {rule.id}: unknown finding {sid!r}")
    for symptom in knowledge.symptoms.values():
        for sid in symptom.implies:
            if sid not in knowledge.symptoms:
                raise ValueError(f"symptom {symptom.id}: implies unknown {sid!r}")
    for band in knowledge.vital_bands:
        for sid in band.only_if | band.unless | band.implies:
            if sid not in known:
                raise ValueError(f"vital band {band.id}: unknown finding {sid!r}")
    for cond in knowledge.conditions:
        for sid in cond.named_ids:
            if sid not in known:
                raise ValueError(f"condition {cond.id}: unknown finding {sid!r}")


# Context findings the engine derives from age, sex, pregnancy, onset and severity.
CONTEXT_IDS = frozenset(
    {
        "age.neonate",
        "age.infant",
        "age.child",
        "age.adult",
        "age.older",
        "sex.female",
        "sex.male",
        "news2.high",
        "news2.medium",
        "gcs.reduced",
        "gcs.low",
        "chest_pain.stable",
        "pregnancy.before_20w",
    }
)


def _index(symptoms: dict[str, Symptom]) -> dict[str, tuple[tuple[str, Phrase], ...]]:
    index: dict[str, list[tuple[str, Phrase]]] = {}
    for symptom in symptoms.values():
        for phrase in symptom.phrases:
            key = max(phrase.needs, key=len, default="")
            index.setdefault(key, []).append((symptom.id, phrase))
    return {key: tuple(items) for key, items in index.items()}


@cache
def load_knowledge() -> Knowledge:
    """Read and check the knowledge files (once per process)."""
    symptoms = _symptoms(_load_yaml("symptoms.yaml")["symptoms"])
    rules_doc = _load_yaml("rules.yaml")
    vitals_doc = _load_yaml("vitals.yaml")
    news2 = vitals_doc["news2"]
    knowledge = Knowledge(
        symptoms=symptoms,
        phrase_index=_index(symptoms),
        rules=tuple(_rule(item) for item in rules_doc["rules"]),
        vital_bands=tuple(_band(item) for item in vitals_doc["bands"]),
        news2=tuple(
            News2Band(
                kind=VitalKind(row["kind"]),
                score=int(row["score"]),
                low=row.get("low"),
                high=row.get("high"),
            )
            for row in news2["chart"]
        ),
        news2_thresholds=tuple(
            News2Threshold(
                min_score=int(row["min_score"]),
                level=Level(row["level"]),
                reason=_text(row["reason"], "news2"),
            )
            for row in news2["thresholds"]
        ),
        news2_cite=str(news2["cite"]),
        context=context_rules(_load_yaml("context.yaml")),
        default_reason=_text(rules_doc["default_reason"], "default_reason"),
        unknown_reason=_text(rules_doc["unknown_reason"], "unknown_reason"),
        physiology=physiology_limits(vitals_doc["physiology"]),
        conditions=conditions(_load_yaml("conditions.yaml")["conditions"]),
    )
    _check(knowledge)
    return knowledge
