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
    PatientFactsSource,
    TriageRecord,
    TriageRecorder,
    VitalsSource,
    record_key,
)
from dialogs.outcomes import Outcome, TriageOutcome
from dialogs.subject import Relative, question_for, read_relative, subject_text
from dialogs.triage import Patient, Sex, TriageResult, VitalKind, VitalReading
from dialogs.triage.advice import EmergencyNumbers, advice_for
from dialogs.triage.context_text import parse_age
from dialogs.triage.interview import MAX_QUESTIONS, next_question
from dialogs.triage.normalise import normalise
from dialogs.triage_cards import ANSWER_LABELS, NO, UNSURE, YES, outcome_card, question_card
from dialogs.triage_explain import unsure_line, why_lines

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
    "age_again": {
        "en": "Please give the age as a number, for example 42, or 8 months for a baby.",
        "fr": "Indiquez l'âge en chiffres, par exemple 42, ou 8 mois pour un bébé.",
    },
    "yes_no_again": {
        "en": "Please answer yes, no or not sure, or tell me more in your own words.",
        "fr": "Répondez oui, non ou je ne sais pas, ou dites-m'en plus avec vos mots.",
    },
    "why": {"en": "Why:", "fr": "Pourquoi :"},
    "earlier_card": {
        "en": "That button was for an earlier question, already answered. This is the question now:",
        "fr": "Ce bouton concernait une question précédente, déjà répondue. Voici la question actuelle :",
    },
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
        facts: PatientFactsSource | None = None,
        emergency: EmergencyNumbers | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_questions: int = MAX_QUESTIONS,
    ) -> None:
        self._vitals = vitals
        self._recorder = recorder
        self._facts = facts
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

    @staticmethod
    def _relative(ctx: DialogContext) -> Relative | None:
        return Relative.from_json(ctx.state.get("relative"))

    def _patient(self, ctx: DialogContext) -> Patient:
        """The person concerned as the engine takes them: a relative's age and sex from the
        story (and the answer to "How old is your son?"), else the writer's own record."""
        relative = self._relative(ctx)
        if relative is not None:
            return Patient(age_years=relative.age_years, sex=relative.sex)
        raw = ctx.state.get("record")
        record = raw if isinstance(raw, dict) else {}
        age, sex, pregnant = ctx.state.get("age"), record.get("sex"), record.get("pregnant")
        if not isinstance(age, int | float):
            age = record.get("age")
        return Patient(
            age_years=float(age) if isinstance(age, int | float) else None,
            sex=Sex(sex) if isinstance(sex, str) else None,
            pregnant=pregnant if isinstance(pregnant, bool) else None,
            from_writer_record=True,
        )

    def _assess(self, ctx: DialogContext) -> TriageResult:
        # The writer's own device readings say nothing about the relative the story is about.
        vitals = [] if self._relative(ctx) else _readings_from_json(ctx.state.get("vitals"))
        return ctx.assessments.of(
            str(ctx.state.get("text", "")),
            patient=self._patient(ctx),
            device_vitals=vitals,
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
            {"text": "", "answers": {}, "asked": [], "items": [], "vitals": [], "pending": None,
             "record": None, "relative": None, "subject_set": False, "cant_miss": [],
             "unsure": []}
        )  # fmt: skip
        now = self._clock()
        ctx.state["started"] = now.isoformat()
        ctx.state["record_key"] = record_key(ctx, now, "triage")
        patient = ctx.person.fhir_reference
        if self._facts is not None and patient:
            ctx.state["record"] = await self._record_facts(ctx, patient)
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

    async def _record_facts(self, ctx: DialogContext, patient: str) -> JSON:
        """The writer's age, sex and pregnancy from the record, as state JSON (None when the
        record cannot be read: the interview then asks the age)."""
        assert self._facts is not None
        try:
            facts = await self._facts.facts(patient, reader=ctx.person.account_id)
        except Exception:
            _log.exception("patient record unavailable for triage")
            return None
        return {
            "age": facts.age_years,
            "sex": facts.sex.value if facts.sex else None,
            "pregnant": facts.pregnant,
        }

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
        relative = self._relative(ctx)
        if relative is not None:
            ctx.state["relative"] = Relative(relative.relation, age).to_json()
        else:
            ctx.state["age"] = age
        question = self._age_question(ctx)
        self._add_item(ctx, "age", question, ctx.input.text, None)
        asked = self._asked(ctx)
        ctx.state["asked"] = [*asked, AGE]
        return await self._next(ctx)

    async def _take_answer(self, ctx: DialogContext, pending: str) -> Step:
        card_question = (ctx.input.value or {}).get("question")
        if isinstance(card_question, str) and card_question != pending:
            # A button of an earlier question's card: that one is answered; ask this one again.
            ctx.say(_text("earlier_card", ctx.language))
            self._ask(ctx, pending)
            return Wait()
        answer, extra = parse_answer(ctx.input.text, ctx.input.value)
        question = self._question_text(ctx, pending)
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
        elif pending in self._strings(ctx, "cant_miss"):
            # Safety-netting: not knowing whether a can't-miss sign is there is taken as yes.
            answers[pending] = True
            ctx.state["unsure"] = [*self._strings(ctx, "unsure"), pending]
        ctx.state["answers"] = dict(answers)
        shown = ctx.input.text or answer
        self._add_item(ctx, pending, question, shown, {YES: True, NO: False}.get(answer))
        return await self._next(ctx)

    @staticmethod
    def _strings(ctx: DialogContext, key: str) -> list[str]:
        raw = ctx.state.get(key)
        return [str(x) for x in raw] if isinstance(raw, list) else []

    def _age_question(self, ctx: DialogContext) -> str:
        relative = self._relative(ctx)
        key = "age_self" if relative is None else "age_other"
        return subject_text(key, relative, ctx.language)

    async def _settle_subject(self, ctx: DialogContext, result: TriageResult) -> TriageResult:
        """Decide once, from the story, who the triage is about; a relative's age and sex
        from the story then replace the writer's record."""
        ctx.state["subject_set"] = True
        if not result.context.about_someone_else:
            return result
        relative = read_relative(normalise(str(ctx.state.get("text", ""))))
        ctx.state["relative"] = relative.to_json()
        return await asyncio.to_thread(self._assess, ctx)

    async def _next(self, ctx: DialogContext) -> Step:
        result = await asyncio.to_thread(self._assess, ctx)  # off the event loop
        if not ctx.state.get("subject_set"):
            result = await self._settle_subject(ctx, result)
        if result.level.is_emergency:
            return await self._finish(ctx, result)
        asked = self._asked(ctx)
        if len(asked) >= self._max_questions:
            return await self._finish(ctx, result)
        if result.context.age_years is None and AGE not in asked:
            ctx.state["pending"] = AGE
            ctx.say(self._age_question(ctx))
            return Wait()
        focus = self._focus(ctx, result)
        question = next_question(result, asked, ctx.assessments.knowledge, focus=focus)
        if question is None or question.symptom.ask is None:
            return await self._finish(ctx, result)
        ctx.state["asked"] = [*asked, question.symptom.id]
        ctx.state["pending"] = question.symptom.id
        if question.could_reach.is_emergency:
            ctx.state["cant_miss"] = [*self._strings(ctx, "cant_miss"), question.symptom.id]
        self._ask(ctx, question.symptom.id)
        return Wait()

    def _ask(self, ctx: DialogContext, symptom_id: str) -> None:
        """Send the yes / no / not sure card about SYMPTOM_ID."""
        text = self._question_text(ctx, symptom_id)
        ctx.send(
            Reply(
                text=text,
                suggestions=tuple(ANSWER_LABELS[ctx.language].values()),
                card=question_card(text, symptom_id, ctx.language),
            )
        )

    def _question_text(self, ctx: DialogContext, symptom_id: str) -> str:
        """The question about SYMPTOM_ID, phrased for the person concerned."""
        symptom = ctx.assessments.knowledge.symptoms[symptom_id]
        asked = symptom.ask[ctx.language] if symptom.ask else symptom.name[ctx.language]
        return question_for(symptom_id, asked, self._relative(ctx), ctx.language)

    async def _finish(self, ctx: DialogContext, result: TriageResult) -> Step:
        language = ctx.language
        advice = advice_for(result.level, language, self._emergency)
        kb = ctx.assessments.knowledge
        top = why_lines(result, kb, language)
        relative = self._relative(ctx)
        ctx.state["pending"] = None
        text = f"{advice.title}. {advice.meaning} {advice.action}"
        if relative is not None:
            text += " " + subject_text("advice_for", relative, language)
        if top:
            text += f"\n{_text('why', language)} " + "; ".join(top) + "."
        unsure = unsure_line(self._strings(ctx, "unsure"), kb, language)
        if unsure:
            text += "\n" + unsure
        if ctx.state.get("vitals") and relative is None:
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
                relative=self._relative(ctx),
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
