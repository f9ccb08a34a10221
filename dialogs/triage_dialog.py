"""The triage dialog: free-text complaint, targeted yes/no questions, outcome in plain words.

Services come through `__init__`: a `VitalsSource` for the patient's recent device vitals,
a `TriageRecorder` for the QuestionnaireResponse and outcome, and the locale's emergency
numbers; the engine and its knowledge come with the turn (`ctx.assessments`). All state
lives in `ctx.state` as JSON. The dialog finishes with a `TriageOutcome`, which the menu hands
to booking when it calls for a visit.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from dialogs.assessment import mentions_symptom
from dialogs.base import JSON, DialogContext, Done, Language, Opening, Reply, Step, Wait
from dialogs.evidence import (
    InterviewItem,
    TriageRecord,
    TriageRecorder,
    VitalsSource,
    record_key,
)
from dialogs.outcomes import Outcome, TriageOutcome
from dialogs.triage import Patient, TriageResult, VitalKind, VitalReading
from dialogs.triage.advice import EmergencyNumbers, advice_for
from dialogs.triage.context_text import parse_age
from dialogs.triage.interview import MAX_QUESTIONS, next_question
from dialogs.triage.normalise import normalise
from dialogs.triage_cards import ANSWER_LABELS, NO, UNSURE, YES, outcome_card, question_card

_log = logging.getLogger(__name__)
AGE = "__age__"
DESCRIBE = "__describe__"
RECENT_VITALS = timedelta(hours=24)

TEXTS: dict[str, dict[Language, str]] = {
    "describe": {
        "en": 'Tell me what is wrong, in your own words. For example: "sore throat and fever since yesterday".',
        "fr": "Dites-moi ce qui ne va pas, avec vos mots. Par exemple : « mal de gorge et fièvre depuis hier ».",
    },
    "describe_again": {
        "en": "I did not recognise a symptom there. Could you describe what you feel, for example where it hurts and since when?",
        "fr": "Je n'ai pas reconnu de symptôme. Pouvez-vous décrire ce que vous ressentez, par exemple où vous avez mal et depuis quand ?",
    },
    "age": {"en": "How old is the person who is unwell?", "fr": "Quel âge a la personne malade ?"},
    "age_again": {
        "en": "Please give the age as a number, for example 42, or 8 months for a baby.",
        "fr": "Indiquez l'âge en chiffres, par exemple 42, ou 8 mois pour un bébé.",
    },
    "yes_no_again": {
        "en": "Please answer yes, no or not sure, or tell me more in your own words.",
        "fr": "Répondez oui, non ou je ne sais pas, ou dites-m'en plus avec vos mots.",
    },
    "why": {"en": "Why:", "fr": "Pourquoi :"},
    "vitals_used": {
        "en": "I also looked at your device readings from the last 24 hours.",
        "fr": "J'ai aussi regardé les mesures de vos appareils des dernières 24 heures.",
    },
    "complaint": {"en": "What is the problem?", "fr": "Quel est le problème ?"},
    "vitals_unavailable": {
        "en": "I can't read your device readings right now, so I'll go by what you tell me.",
        "fr": "Je ne peux pas lire les mesures de vos appareils pour l'instant ; je me fie à ce que vous me dites.",
    },
}

_YES = {"yes", "y", "yeah", "yep", "yup", "oui", "ouais", "si", "o", "correct", "i do", "it is",
        "yes it is", "a little", "a bit", "un peu", "affirmative", "sure", "exactly", "tout a fait"}  # fmt: skip
_NO = {"no", "n", "nope", "nah", "non", "not really", "pas vraiment", "i don t", "none", "aucun",
       "never", "jamais", "no it isn t", "not at all", "pas du tout", "negative"}  # fmt: skip
_UNSURE = {"not sure", "don t know", "i don t know", "unsure", "maybe", "je ne sais pas",
           "sais pas", "peut etre", "je sais pas", "no idea", "aucune idee"}  # fmt: skip
_LEADING = re.compile(r"^(yes|yeah|yep|oui|no|non|nope)\b[\s,.!]*(.*)$")


def _text(key: str, language: Language) -> str:
    return TEXTS[key][language]


def parse_answer(text: str, value: Mapping[str, JSON] | None) -> tuple[str | None, str]:
    """A yes/no/unsure answer from a card submit or typed words, and any extra words."""
    if value is not None and isinstance(value.get("answer"), str):
        answer = str(value["answer"])
        if answer in (YES, NO, UNSURE):
            return answer, ""
    words = normalise(text).strip(" .!?")
    if words in _UNSURE:
        return UNSURE, ""
    if words in _YES:
        return YES, ""
    if words in _NO:
        return NO, ""
    m = _LEADING.match(words)
    if m:
        head = m.group(1)
        return (YES if head in ("yes", "yeah", "yep", "oui") else NO), m.group(2)
    return None, words


def _readings_to_json(readings: Sequence[VitalReading]) -> list[JSON]:
    return [
        {
            "kind": r.kind.value,
            "value": r.value,
            "source": r.source,
            "time": r.time.isoformat() if r.time else None,
        }
        for r in readings
    ]


def _readings_from_json(raw: JSON) -> list[VitalReading]:
    out: list[VitalReading] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        kind, value, time = item.get("kind"), item.get("value"), item.get("time")
        if not isinstance(kind, str) or not isinstance(value, int | float):
            continue
        out.append(
            VitalReading(
                VitalKind(kind),
                float(value),
                source=str(item.get("source") or "device"),
                time=datetime.fromisoformat(time) if isinstance(time, str) else None,
            )
        )
    return out


class TriageDialog:
    """Symptom triage with follow-up questions; see the module docstring."""

    name = "triage"

    def __init__(
        self,
        vitals: VitalsSource | None = None,
        recorder: TriageRecorder | None = None,
        *,
        emergency: EmergencyNumbers | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_questions: int = MAX_QUESTIONS,
    ) -> None:
        self._vitals = vitals
        self._recorder = recorder
        self._emergency = emergency or EmergencyNumbers()
        self._clock = clock
        self._max_questions = max_questions

    # ---- state helpers ----

    @staticmethod
    def _answers(ctx: DialogContext) -> dict[str, bool]:
        raw = ctx.state.get("answers")
        return (
            {k: v for k, v in raw.items() if isinstance(v, bool)} if isinstance(raw, dict) else {}
        )

    @staticmethod
    def _asked(ctx: DialogContext) -> list[str]:
        raw = ctx.state.get("asked")
        return [str(x) for x in raw] if isinstance(raw, list) else []

    @staticmethod
    def _add_item(
        ctx: DialogContext, link_id: str, question: str, answer: str, yes: bool | None
    ) -> None:
        items = ctx.state.setdefault("items", [])
        if isinstance(items, list):
            items.append({"link_id": link_id, "question": question, "answer": answer, "yes": yes})

    def _assess(self, ctx: DialogContext) -> TriageResult:
        age = ctx.state.get("age")
        return ctx.assessments.of(
            str(ctx.state.get("text", "")),
            patient=Patient(age_years=float(age) if isinstance(age, int | float) else None),
            device_vitals=_readings_from_json(ctx.state.get("vitals")),
            answers=self._answers(ctx),
        )

    @staticmethod
    def _add_text(ctx: DialogContext, words: str) -> None:
        """Add WORDS to the story; its findings are taken from the turn's one assessment."""
        ctx.state["text"] = f"{ctx.state.get('text', '')}\n{words}".strip()
        ctx.state["focus"] = None

    def _focus(self, ctx: DialogContext, result: TriageResult) -> list[str]:
        """The findings the story names: RESULT's present ones that are not answers.

        Taken from the interview's assessment rather than from a second run of the engine
        on the story alone, so each turn assesses the story once. A question is asked only
        about a finding not yet known, so no answer is about a finding the story named."""
        raw = ctx.state.get("focus")
        if isinstance(raw, list):
            return [str(x) for x in raw]
        answered = self._answers(ctx)
        focus = sorted(result.present_ids - answered.keys())
        ctx.state["focus"] = [*focus]
        return focus

    # ---- dialog protocol ----

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """Load recent device vitals, then triage the opening words or ask for them."""
        ctx.state.update(
            {"text": "", "answers": {}, "asked": [], "items": [], "vitals": [], "pending": None}
        )
        now = self._clock()
        ctx.state["started"] = now.isoformat()
        ctx.state["record_key"] = record_key(ctx, now, "triage")
        patient = ctx.person.fhir_reference
        if self._vitals is not None and patient:
            try:
                readings = await self._vitals.readings(
                    patient, self._clock() - RECENT_VITALS, reader=ctx.person.account_id
                )
                ctx.state["vitals"] = _readings_to_json(readings)
            except Exception:
                # Triage goes on from the words alone; the patient is told so.
                _log.exception("device vitals unavailable for triage")
                ctx.say(_text("vitals_unavailable", ctx.language))
        opening = args.text.strip()
        if opening and mentions_symptom(ctx.assessments.of(opening)):
            return await self._take_description(ctx, opening)
        vitals_result = await asyncio.to_thread(self._assess, ctx)
        if vitals_result.level.is_emergency:
            return await self._finish(ctx, vitals_result)
        return self._ask_description(ctx, again=False)

    async def resume(self, ctx: DialogContext) -> Step:
        """Handle the answer to the pending question."""
        pending = ctx.state.get("pending")
        if pending == DESCRIBE:
            return await self._take_description(ctx, ctx.input.text)
        if pending == AGE:
            return await self._take_age(ctx)
        if isinstance(pending, str):
            return await self._take_answer(ctx, pending)
        return await self._take_description(ctx, ctx.input.text)

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """Triage starts no children."""
        return Done(result)

    # ---- steps ----

    def _ask_description(self, ctx: DialogContext, *, again: bool) -> Step:
        ctx.state["pending"] = DESCRIBE
        ctx.state["described_once"] = again
        ctx.say(_text("describe_again" if again else "describe", ctx.language))
        return Wait()

    async def _take_description(self, ctx: DialogContext, words: str) -> Step:
        if not mentions_symptom(ctx.assessments.of(words)) and not ctx.state.get("described_once"):
            return self._ask_description(ctx, again=True)
        self._add_text(ctx, words)
        self._add_item(ctx, "complaint", _text("complaint", ctx.language), words, None)
        return await self._next(ctx)

    async def _take_age(self, ctx: DialogContext) -> Step:
        words = normalise(ctx.input.text)
        age = parse_age(words)
        if age is None and re.fullmatch(r"\d{1,3}", words.strip()):
            age = float(words.strip())
        if age is None and not ctx.state.get("age_reprompted"):
            ctx.state["age_reprompted"] = True
            ctx.say(_text("age_again", ctx.language))
            return Wait()
        ctx.state["age"] = age
        self._add_item(ctx, "age", _text("age", ctx.language), ctx.input.text, None)
        asked = self._asked(ctx)
        ctx.state["asked"] = [*asked, AGE]
        return await self._next(ctx)

    async def _take_answer(self, ctx: DialogContext, pending: str) -> Step:
        answer, extra = parse_answer(ctx.input.text, ctx.input.value)
        symptom = ctx.assessments.knowledge.symptoms[pending]
        question = symptom.ask[ctx.language] if symptom.ask else symptom.name[ctx.language]
        if answer is None:
            # The extra words are the whole message here: the turn's own assessment serves.
            if not ctx.assessments.words().findings and not ctx.state.get("yes_no_reprompted"):
                ctx.state["yes_no_reprompted"] = True
                ctx.say(_text("yes_no_again", ctx.language))
                return Wait()
            answer = UNSURE
        ctx.state["yes_no_reprompted"] = False
        if extra:
            self._add_text(ctx, extra)
        answers = self._answers(ctx)
        if answer in (YES, NO):
            answers[pending] = answer == YES
        ctx.state["answers"] = dict(answers)
        shown = ctx.input.text or answer
        self._add_item(ctx, pending, question, shown, {YES: True, NO: False}.get(answer))
        return await self._next(ctx)

    async def _next(self, ctx: DialogContext) -> Step:
        result = await asyncio.to_thread(self._assess, ctx)  # off the event loop
        if result.level.is_emergency:
            return await self._finish(ctx, result)
        asked = self._asked(ctx)
        if len(asked) >= self._max_questions:
            return await self._finish(ctx, result)
        if result.context.age_years is None and AGE not in asked:
            ctx.state["pending"] = AGE
            ctx.say(_text("age", ctx.language))
            return Wait()
        focus = self._focus(ctx, result)
        question = next_question(result, asked, ctx.assessments.knowledge, focus=focus)
        if question is None or question.symptom.ask is None:
            return await self._finish(ctx, result)
        ctx.state["asked"] = [*asked, question.symptom.id]
        ctx.state["pending"] = question.symptom.id
        text = question.symptom.ask[ctx.language]
        ctx.send(
            Reply(
                text=text,
                suggestions=tuple(ANSWER_LABELS[ctx.language].values()),
                card=question_card(text, question.symptom.id, ctx.language),
            )
        )
        return Wait()

    async def _finish(self, ctx: DialogContext, result: TriageResult) -> Step:
        language = ctx.language
        advice = advice_for(result.level, language, self._emergency)
        top = [r.text for r in result.reasons if r.level is result.level][:3]
        ctx.state["pending"] = None
        text = f"{advice.title}. {advice.meaning} {advice.action}"
        if top:
            text += f"\n{_text('why', language)} " + "; ".join(top) + "."
        if ctx.state.get("vitals"):
            text += "\n" + _text("vitals_used", language)
        ctx.send(
            Reply(text=text, card=outcome_card(result.level, advice, top, _text("why", language)))
        )
        try:
            await self._record(ctx, result)
        except Exception:
            # The advice has been given; a failed write is logged for the operators to replay.
            _log.exception("triage record not written")
        return Done(TriageOutcome.of(result, self._emergency.number(language)))

    async def _record(self, ctx: DialogContext, result: TriageResult) -> None:
        patient = ctx.person.fhir_reference
        if self._recorder is None or not patient:
            return
        items = ctx.state.get("items")
        interview = tuple(
            _item(i) for i in (items if isinstance(items, list) else []) if isinstance(i, dict)
        )
        key = ctx.state.get("record_key")
        if not isinstance(key, str):  # a triage begun before keys came from activities
            key = f"{ctx.person.account_id}/{ctx.state.get('started', '')}"
        await self._recorder.record_triage(
            TriageRecord(
                key=key,
                patient=patient,
                language=ctx.language,
                items=interview,
                result=result,
                time=self._clock(),
            )
        )


def _item(raw: Mapping[str, JSON]) -> InterviewItem:
    yes = raw.get("yes")
    return InterviewItem(
        link_id=str(raw.get("link_id")),
        question=str(raw.get("question")),
        answer=str(raw.get("answer")),
        answer_yes=yes if isinstance(yes, bool) else None,
    )
