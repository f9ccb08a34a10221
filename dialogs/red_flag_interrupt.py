"""The red-flag interrupt: on any turn of any dialog, an emergency in the words stops
everything and gives emergency advice with the locale's emergency number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from dialogs.base import DialogContext, Done, Reply, Step
from dialogs.evidence import InterviewItem, TriageRecord, TriageRecorder, record_key
from dialogs.outcomes import TriageOutcome
from dialogs.subject import read_relative, subject_text
from dialogs.triage import TriageResult
from dialogs.triage.advice import EmergencyNumbers, advice_for
from dialogs.triage.normalise import normalise
from dialogs.triage_cards import outcome_card

_log = logging.getLogger(__name__)
_WHY = {"en": "Why:", "fr": "Pourquoi :"}


class RedFlagInterrupt:
    """Checks every typed message for red flags (negations respected, e.g. "no chest pain")."""

    def __init__(
        self, emergency: EmergencyNumbers | None = None, recorder: TriageRecorder | None = None
    ) -> None:
        self._emergency = emergency or EmergencyNumbers()
        self._recorder = recorder

    async def check(self, ctx: DialogContext) -> Step | None:
        """Take over with emergency advice when the message holds a red flag."""
        text = ctx.input.text.strip()
        if not text:
            return None
        result = ctx.assessments.words()
        if not result.level.is_emergency or not result.red_flags:
            return None
        advice = advice_for(result.level, ctx.language, self._emergency)
        reasons = list(dict.fromkeys(r.text for r in result.red_flags))[:3]
        relative = read_relative(normalise(text)) if result.context.about_someone_else else None
        for_whom = " " + subject_text("advice_for", relative, ctx.language) if relative else ""
        ctx.send(
            Reply(
                text=f"{advice.title}. {advice.meaning} {advice.action}{for_whom}\n"
                + f"{_WHY[ctx.language]} "
                + "; ".join(reasons)
                + ".",
                card=outcome_card(result.level, advice, reasons, _WHY[ctx.language]),
            )
        )
        patient = ctx.person.fhir_reference
        if self._recorder is not None and patient:
            await _record(self._recorder, patient, ctx, text, result)
        number = self._emergency.number(ctx.language)
        return Done(TriageOutcome.of(result, number, interrupted=True))


async def _record(
    recorder: TriageRecorder, patient: str, ctx: DialogContext, text: str, result: TriageResult
) -> None:
    """Store the red-flag outcome; a failed write is logged, the advice already given."""
    item = InterviewItem("complaint", "red flag", text)
    now = datetime.now(UTC)
    try:
        await recorder.record_triage(
            TriageRecord(
                key=record_key(ctx, now, "red-flag"),
                patient=patient,
                language=ctx.language,
                items=(item,),
                result=result,
                time=now,
                relative=read_relative(normalise(text))
                if result.context.about_someone_else
                else None,
            )
        )
    except Exception:
        _log.exception("red-flag record not written")
