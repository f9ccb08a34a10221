"""The triage engine as dialogs use it: knowledge injected once, each assessment made once
per turn and shared by the interrupts, the menu and the dialogs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dialogs.base import Language
from dialogs.triage import Patient, TriageResult, VitalReading, assess
from dialogs.triage.knowledge_base import Knowledge
from dialogs.triage.text_model import TextModel

_Key = tuple[str, Language, Patient | None, tuple[VitalReading, ...], frozenset[tuple[str, bool]]]


class TriageEngine:
    """`dialogs.triage.assess` with the knowledge (and text model) the service loaded."""

    def __init__(self, knowledge: Knowledge, text_model: TextModel | None = None) -> None:
        self.knowledge = knowledge
        self.text_model = text_model
        self.runs = 0  # assessments made, for tests and benchmarks that count them

    def assess(
        self,
        text: str,
        *,
        language: Language,
        patient: Patient | None = None,
        device_vitals: Iterable[VitalReading] = (),
        answers: Mapping[str, bool] | None = None,
    ) -> TriageResult:
        """Triage TEXT with the record, device vitals and follow-up answers."""
        self.runs += 1
        return assess(
            text,
            language=language,
            patient=patient,
            device_vitals=device_vitals,
            answers=dict(answers) if answers is not None else None,
            knowledge=self.knowledge,
            text_model=self.text_model,
        )


class TurnAssessments:
    """The assessments of one turn: each distinct question to the engine is asked once."""

    def __init__(self, engine: TriageEngine, text: str, language: Language) -> None:
        self.engine = engine
        self._text = text.strip()
        self._language = language
        self._memo: dict[_Key, TriageResult] = {}

    @property
    def knowledge(self) -> Knowledge:
        """The medical knowledge the engine runs on."""
        return self.engine.knowledge

    def words(self) -> TriageResult:
        """The assessment of the turn's own words (red flags, symptom mentions)."""
        return self.of(self._text)

    def of(
        self,
        text: str,
        *,
        patient: Patient | None = None,
        device_vitals: Iterable[VitalReading] = (),
        answers: Mapping[str, bool] | None = None,
    ) -> TriageResult:
        """The assessment of TEXT with the given evidence, computed at most once per turn."""
        vitals = tuple(device_vitals)
        key: _Key = (
            text.strip(),
            self._language,
            patient if patient is not None and _knows(patient) else None,
            vitals,
            frozenset((answers or {}).items()),
        )
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self.engine.assess(
                key[0],
                language=self._language,
                patient=patient,
                device_vitals=vitals,
                answers=answers,
            )
        return found


def _knows(patient: Patient) -> bool:
    """True when PATIENT tells the engine anything (an empty record is no record)."""
    return (patient.age_years, patient.sex, patient.pregnant) != (None, None, None)


def mentions_symptom(result: TriageResult) -> bool:
    """True when the engine found any symptom present: "a bit tired since yesterday" is a
    story worth a triage, so modifiers and mild complaints count."""
    return any(f.present for f in result.findings)
