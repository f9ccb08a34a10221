"""The "my vitals" dialog: latest device readings in plain words, a 7-day trend chart in an
Adaptive Card, and a way into triage when readings are abnormal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

from dialogs.base import (
    Dialog,
    DialogContext,
    Done,
    Language,
    Opening,
    Reply,
    StartChild,
    Step,
    Wait,
)
from dialogs.evidence import TriageRecorder, VitalsSource, latest_by_kind
from dialogs.outcomes import Outcome, VitalsOutcome, triage_outcome_of
from dialogs.triage import Level, VitalKind, VitalReading
from dialogs.triage.knowledge_base import Knowledge
from dialogs.triage.vitals_judge import judge_vitals
from dialogs.triage_cards import image_card
from dialogs.triage_dialog import parse_answer
from dialogs.vitals_bands import DECIMALS, is_normal, normal_range, outside_band, shown
from dialogs.vitals_chart import png_data_uri, render_trend_png

_log = logging.getLogger(__name__)
WEEK = timedelta(days=7)
RECENT = timedelta(hours=24)
OFFER_TRIAGE = "offer_triage"

NAMES: dict[VitalKind, dict[Language, str]] = {
    VitalKind.SPO2: {"en": "oxygen level", "fr": "taux d'oxygène"},
    VitalKind.HEART_RATE: {"en": "heart rate", "fr": "pouls"},
    VitalKind.SYSTOLIC_BP: {"en": "blood pressure", "fr": "tension"},
    VitalKind.TEMPERATURE: {"en": "temperature", "fr": "température"},
    VitalKind.RESPIRATORY_RATE: {"en": "breathing rate", "fr": "fréquence respiratoire"},
    VitalKind.GLUCOSE: {"en": "blood sugar", "fr": "glycémie"},
    VitalKind.WEIGHT: {"en": "weight", "fr": "poids"},
}
UNITS: dict[VitalKind, dict[Language, str]] = {
    VitalKind.SPO2: {"en": "%", "fr": " %"},
    VitalKind.HEART_RATE: {"en": " beats per minute", "fr": " battements par minute"},
    VitalKind.SYSTOLIC_BP: {"en": " mmHg", "fr": " mmHg"},
    VitalKind.DIASTOLIC_BP: {"en": " mmHg", "fr": " mmHg"},
    VitalKind.TEMPERATURE: {"en": " °C", "fr": " °C"},
    VitalKind.RESPIRATORY_RATE: {"en": " breaths per minute", "fr": " respirations par minute"},
    VitalKind.GLUCOSE: {"en": " mg/dL", "fr": " mg/dL"},
    VitalKind.WEIGHT: {"en": " kg", "fr": " kg"},
}
TEXTS: dict[str, dict[Language, str]] = {
    "no_record": {
        "en": "I can't find your health record yet, so I have no device readings to show.",
        "fr": "Je ne trouve pas encore votre dossier, je n'ai donc aucune mesure à afficher.",
    },
    "unavailable": {
        "en": "I can't read your device readings right now. Please try again in a little while.",
        "fr": "Je ne peux pas lire les mesures de vos appareils pour l'instant. Réessayez un peu plus tard.",
    },
    "none": {
        "en": "Your devices have sent no readings in the last 7 days.",
        "fr": "Vos appareils n'ont envoyé aucune mesure ces 7 derniers jours.",
    },
    "reading": {
        "en": "Your {name} was {value} {when} ({device}), {status}.",
        "fr": "Votre {name} était de {value} {when} ({device}), {status}.",
    },
    "normal": {"en": "in the normal range", "fr": "dans la normale"},
    "abnormal": {"en": "outside the normal range: {what}", "fr": "hors de la normale : {what}"},
    "title": {"en": "Your vitals over the last 7 days", "fr": "Vos constantes sur 7 jours"},
    "alt": {
        "en": "Chart of your readings over 7 days",
        "fr": "Graphique de vos mesures sur 7 jours",
    },
    "urgent": {
        "en": "Some of these readings need attention now.",
        "fr": "Certaines de ces mesures demandent une attention immédiate.",
    },
    "offer": {
        "en": "Shall we check your symptoms now?",
        "fr": "Voulez-vous vérifier vos symptômes maintenant ?",
    },
    "outside": {
        "en": "Outside the normal range in the last 7 days: {what}.",
        "fr": "Hors de la normale ces 7 derniers jours : {what}.",
    },
    "worst": {
        "en": "{name} {count} times, the worst {value} {when} (normal: {normal})",
        "fr": "{name} {count} fois, au pire {value} {when} (normale : {normal})",
    },
    "worst_once": {
        "en": "{name} once, {value} {when} (normal: {normal})",
        "fr": "{name} une fois, {value} {when} (normale : {normal})",
    },
    "ok": {
        "en": "All right. Ask me again any time.",
        "fr": "Très bien. Redemandez-moi quand vous voulez.",
    },
}
_WEEKDAYS: dict[Language, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
}
_ORDER = tuple(NAMES)
UNJUDGED = frozenset({VitalKind.WEIGHT})
# The summary names each pressure, since either can be out of range alone.
SUMMARY_NAMES: dict[VitalKind, dict[Language, str]] = {
    **NAMES,
    VitalKind.SYSTOLIC_BP: {"en": "systolic pressure", "fr": "tension systolique"},
    VitalKind.DIASTOLIC_BP: {"en": "diastolic pressure", "fr": "tension diastolique"},
}


def when_words(moment: datetime | None, now: datetime, language: Language) -> str:
    """'this morning at 08:30', 'yesterday at 21:10', 'on Mon 16/11 at 07:00' (and French)."""
    if moment is None:
        return ""
    clock = moment.strftime("%H:%M")
    days = (now.date() - moment.date()).days
    if days == 0:
        part = "morning" if moment.hour < 12 else "afternoon" if moment.hour < 18 else "evening"
        if language == "fr":
            words = {"morning": "ce matin", "afternoon": "cet après-midi", "evening": "ce soir"}
            return f"{words[part]} à {clock}"
        return f"this {part} at {clock}"
    if days == 1:
        return f"hier à {clock}" if language == "fr" else f"yesterday at {clock}"
    day = f"{_WEEKDAYS[language][moment.weekday()]} {moment.strftime('%d/%m')}"
    return f"le {day} à {clock}" if language == "fr" else f"on {day} at {clock}"


def number_text(kind: VitalKind, value: float, language: Language) -> str:
    """VALUE of KIND at its display precision ("74", "37.8"; French "37,8")."""
    text = f"{shown(VitalReading(kind, value)).value:.{DECIMALS.get(kind, 1)}f}"
    return text.replace(".", ",") if language == "fr" else text


def _value(reading: VitalReading, diastolic: VitalReading | None, language: Language) -> str:
    number = number_text(reading.kind, reading.value, language)
    if reading.kind is VitalKind.SYSTOLIC_BP and diastolic is not None:
        number += "/" + number_text(diastolic.kind, diastolic.value, language)
    return number + UNITS[reading.kind][language]


def normal_text(kind: VitalKind, knowledge: Knowledge, language: Language) -> str:
    """The normal range in words: "95-100%" style limits, from the knowledge's bands."""
    span = normal_range(kind, knowledge)
    step = 10.0 ** -DECIMALS.get(kind, 1)
    unit = UNITS[kind][language].strip()
    low = number_text(kind, span.above + step, language) if span.above is not None else None
    high = number_text(kind, span.below - step, language) if span.below is not None else None
    if low and high:
        return f"{low}-{high} {unit}"
    if low:
        return f"≥ {low} {unit}"
    return f"≤ {high} {unit}" if high else "-"


def _status(
    readings: Sequence[VitalReading], language: Language, knowledge: Knowledge
) -> tuple[str, bool]:
    out = [r for r in readings if not is_normal(r, knowledge)]
    if not out:
        return TEXTS["normal"][language], False
    bands = [outside_band(r, knowledge) for r in out]
    what = ", ".join(dict.fromkeys(b.name[language] for b in bands if b is not None))
    return TEXTS["abnormal"][language].format(what=what or NAMES[out[0].kind][language]), True


def outside_summary(
    readings: Sequence[VitalReading],
    now: datetime,
    language: Language,
    zone: tzinfo,
    knowledge: Knowledge,
) -> str | None:
    """Which vitals were outside the normal range over READINGS' period: how often, the
    worst value and when; None when every reading was normal."""
    parts: list[str] = []
    for kind in (*_ORDER, VitalKind.DIASTOLIC_BP):
        if kind in UNJUDGED:
            continue
        out = [r for r in readings if r.kind is kind and not is_normal(r, knowledge)]
        if not out:
            continue
        span = normal_range(kind, knowledge)
        worst = max(out, key=lambda r: span.distance(shown(r).value))
        moment = worst.time.astimezone(zone) if worst.time else None
        key = "worst_once" if len(out) == 1 else "worst"
        parts.append(
            TEXTS[key][language].format(
                name=SUMMARY_NAMES[kind][language],
                count=len(out),
                value=_value(worst, None, language),
                when=when_words(moment, now.astimezone(zone), language),
                normal=normal_text(kind, knowledge, language),
            )
        )
    if not parts:
        return None
    what = "; ".join(parts)
    return TEXTS["outside"][language].format(what=what[0].upper() + what[1:])


def describe_latest(
    readings: Sequence[VitalReading],
    now: datetime,
    language: Language,
    zone: tzinfo,
    knowledge: Knowledge,
) -> list[str]:
    """One plain-word sentence per vital sign: value, when, device, normal or not."""
    latest = {r.kind: r for r in latest_by_kind(readings)}
    lines: list[str] = []
    for kind in _ORDER:
        reading = latest.get(kind)
        if reading is None:
            continue
        diastolic = latest.get(VitalKind.DIASTOLIC_BP) if kind is VitalKind.SYSTOLIC_BP else None
        judged = [reading, *([diastolic] if diastolic else [])]
        status, _ = _status(judged, language, knowledge)
        moment = reading.time.astimezone(zone) if reading.time else None
        line = TEXTS["reading"][language].format(
            name=NAMES[kind][language],
            value=_value(reading, diastolic, language),
            when=when_words(moment, now.astimezone(zone), language),
            device=reading.source,
            status=status,
        )
        if kind in UNJUDGED:  # no band says what is normal: the value alone
            line = line.split("), ")[0] + ")."
        lines.append(line)
    return lines


class VitalsDialog:
    """Shows the patient's device vitals; abnormal recent values lead into TRIAGE."""

    name = "vitals"

    def __init__(
        self,
        source: VitalsSource,
        triage: Dialog[Opening],
        recorder: TriageRecorder | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        zone: tzinfo = UTC,
    ) -> None:
        self._source = source
        self._triage = triage
        self._recorder = recorder
        self._clock = clock
        self._zone = zone

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """Read a week of readings, show them, and offer triage when they are abnormal."""
        language = ctx.language
        patient = ctx.person.fhir_reference
        if not patient:
            ctx.say(TEXTS["no_record"][language])
            return Done(VitalsOutcome(readings=0))
        now = self._clock()
        try:
            readings = list(
                await self._source.readings(patient, now - WEEK, reader=ctx.person.account_id)
            )
        except Exception:
            _log.exception("vitals unavailable")
            ctx.say(TEXTS["unavailable"][language])
            return Done(VitalsOutcome(readings=0))
        if not readings:
            ctx.say(TEXTS["none"][language])
            return Done(VitalsOutcome(readings=0))
        knowledge = ctx.assessments.knowledge
        lines = describe_latest(readings, now, language, self._zone, knowledge)
        png = await asyncio.to_thread(render_trend_png, readings, language, knowledge, self._zone)
        card = image_card(
            TEXTS["title"][language], png_data_uri(png), TEXTS["alt"][language], lines
        )
        ctx.send(Reply(text="\n".join(lines), card=card))
        recent = [r for r in readings if r.time is None or r.time >= now - RECENT]
        ctx.state["readings"] = len(readings)
        summary = outside_summary(readings, now, language, self._zone, knowledge)
        if summary is not None:
            ctx.say(summary)
        level = ctx.assessments.of("", device_vitals=latest_by_kind(recent)).level
        if level.is_emergency:
            ctx.state["attention"] = True
            ctx.say(TEXTS["urgent"][language])
            return StartChild(self._triage, Opening())
        if level.rank > Level.SELF_CARE.rank and any(
            j.band.level is not None for j in judge_vitals(recent, frozenset(), knowledge)
        ):
            ctx.state["attention"] = True
            ctx.state["pending"] = OFFER_TRIAGE
            labels = ("Yes", "No") if language == "en" else ("Oui", "Non")
            ctx.say(TEXTS["offer"][language], suggestions=labels)
            return Wait()
        return Done(self._outcome(ctx))

    @staticmethod
    def _outcome(ctx: DialogContext, result: Outcome | None = None) -> VitalsOutcome:
        shown = ctx.state.get("readings")
        return VitalsOutcome(
            readings=shown if isinstance(shown, int) else 0,
            attention=ctx.state.get("attention") is True,
            triage=triage_outcome_of(result),
        )

    async def resume(self, ctx: DialogContext) -> Step:
        """Yes to the triage offer starts triage; anything else ends here."""
        answer, _ = parse_answer(ctx.input.text, ctx.input.value)
        if ctx.state.get("pending") == OFFER_TRIAGE and answer == "yes":
            return StartChild(self._triage, Opening())
        ctx.say(TEXTS["ok"][ctx.language])
        return Done(self._outcome(ctx))

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """Pass triage's outcome up, so a consultation can go on to booking."""
        return Done(self._outcome(ctx, result))
