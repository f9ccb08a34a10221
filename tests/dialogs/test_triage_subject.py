"""Who the triage is about, and its safety-netting: scripted conversations through the runner
the service builds, the record's facts from a fake, the relative's record checked as FHIR."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir.resources.R4B.bundle import Bundle

from bot.app import DialogServices, build_runner
from dialogs.fhir_evidence import patient_facts, triage_bundle
from dialogs.subject import question_symptoms, read_relative
from dialogs.triage import Level, Patient, Sex
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.normalise import normalise
from tests.triage.driver import (
    ALICE,
    CLAIRE,
    Conversation,
    FakeRecorder,
    FakeVitalsSource,
    RememberedLanguages,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
KB = load_knowledge()


class FakeFacts:
    """The record's facts of every patient, remembering who read them."""

    def __init__(self, facts: Patient) -> None:
        self.held = facts
        self.calls: list[tuple[str, str]] = []

    async def facts(self, patient: str, *, reader: str) -> Patient:
        self.calls.append((patient, reader))
        return self.held


ALICE_RECORD = Patient(age_years=45.2, sex=Sex.FEMALE, from_writer_record=True)


def chat_with(facts: FakeFacts, recorder: FakeRecorder | None = None, person=ALICE) -> Conversation:
    _, runner = build_runner(
        DialogServices(
            vitals=FakeVitalsSource(),
            recorder=recorder or FakeRecorder(),
            languages=RememberedLanguages(),
            knowledge=KB,
            facts=facts,
            clock=lambda: NOW,
        )
    )
    return Conversation(person, runner)


async def answer_all(chat: Conversation, answers: dict[str, str], default: str = "no") -> list[str]:
    """Answer every question until the interview ends; the ids asked, in order."""
    asked: list[str] = []
    for _ in range(10):
        pending = chat.pending
        if pending is None:
            break
        asked.append(pending)
        await chat.send(answers.get(pending, default))
    return asked


async def test_the_patients_own_age_and_sex_come_from_the_record_never_asked() -> None:
    facts = FakeFacts(ALICE_RECORD)
    chat = chat_with(facts)
    await chat.send("check symptoms")
    texts = await chat.send("I have pain in my belly since this morning")
    assert facts.calls == [("Patient/1", "a1")]
    assert texts == ["Is it severe, the worst you have had?"]
    asked = await answer_all(chat, {})
    assert "__age__" not in asked
    assert chat.last[0].text.startswith("See a doctor within 24 hours.")


async def test_without_a_birth_date_the_patient_is_asked_their_own_age_once() -> None:
    chat = chat_with(FakeFacts(Patient(sex=Sex.FEMALE, from_writer_record=True)))
    await chat.send("check symptoms")
    assert await chat.send("I have pain in my belly since this morning") == ["How old are you?"]
    assert await chat.send("45") == ["Is it severe, the worst you have had?"]


async def test_a_childs_story_gives_the_age_questions_are_about_the_child() -> None:
    recorder = FakeRecorder()
    chat = chat_with(FakeFacts(ALICE_RECORD), recorder)
    await chat.send("check symptoms")
    texts = await chat.send("my son is 6, he has a fever and a rash")
    assert texts == ["Is your son confused, very drowsy or hard to wake?"]
    asked = await answer_all(chat, {"non_blanching_rash": "not sure"})
    assert "__age__" not in asked
    assert asked[-1] == "non_blanching_rash"
    assert chat.last[0].text == (
        "Call 911 now. This could be life-threatening. Call 911 for an ambulance now. Do not "
        "drive yourself. Stay with someone if you can, unlock the door and keep your phone "
        "with you. This advice is for your son.\n"
        "Why: A rash that does not fade under a glass can be meningitis or sepsis; possible "
        "meningitis (likelihood 50%): for fever, rash that does not fade under a glass.\n"
        "You were not sure about rash that does not fade under a glass, so I counted it as "
        "present to be safe."
    )
    (record,) = recorder.records
    assert record.relative is not None
    assert (record.relative.relation.code, record.relative.age_years) == ("SON", 6.0)
    assert record.result.context.age_years == 6.0  # not the parent's 45
    questions = [i.question for i in record.items[1:]]
    assert questions == [
        "Is your son confused, very drowsy or hard to wake?",
        "Does your son have a rash of small red or purple spots that does not fade when you "
        "press a glass on it?",
    ]


async def test_a_childs_age_missing_from_the_story_is_asked_once_then_kept() -> None:
    chat = chat_with(FakeFacts(ALICE_RECORD))
    await chat.send("check symptoms")
    assert await chat.send("my daughter has a fever and a rash") == ["How old is your daughter?"]
    assert await chat.send("four") == [
        "Please give the age as a number, for example 42, or 8 months for a baby."
    ]
    assert await chat.send("4") == ["Is your daughter confused, very drowsy or hard to wake?"]
    asked = await answer_all(chat, {})
    assert "__age__" not in asked
    assert "This advice is for your daughter." in chat.last[0].text


async def test_french_questions_for_a_relative() -> None:
    chat = chat_with(FakeFacts(ALICE_RECORD), person=CLAIRE)
    await chat.send("triage")
    texts = await chat.send("ma fille a 3 ans et de la fièvre avec des boutons")
    assert texts == ["Votre fille est-elle confus(e), très somnolent(e) ou difficile à réveiller ?"]


def test_every_question_has_a_phrasing_for_someone_else() -> None:
    asked = {s.id for s in KB.symptoms.values() if s.ask is not None}
    assert question_symptoms() == asked


def test_relationship_and_age_read_from_the_story() -> None:
    cases = {
        "my son is 6, he has a fever": ("SON", 6.0),
        "my 6 year old son has a fever": ("SON", 6.0),
        "mon fils de 6 ans a de la fièvre": ("SON", 6.0),
        "my baby is 8 months old": ("CHILD", 0.667),
        "my wife, 34, has chest pain": ("WIFE", 34.0),
        "my son is 39 C since last night": ("SON", None),
        "ma fille a 39 de fièvre": ("DAU", None),
        "my son has had a fever for 3 days": ("SON", None),
        "a man of 40 with chest pain": ("FAMMEMB", None),
    }
    for story, (code, age) in cases.items():
        relative = read_relative(normalise(story))
        assert (relative.relation.code, relative.age_years) == (code, age), story


async def test_a_no_to_the_cant_miss_question_is_not_escalated() -> None:
    chat = chat_with(FakeFacts(ALICE_RECORD))
    await chat.send("check symptoms")
    await chat.send("my son is 6, he has a fever and a rash")
    await answer_all(chat, {"non_blanching_rash": "no"})
    assert not chat.last[0].text.startswith("Call 911")
    assert "not sure" not in chat.last[0].text


async def test_no_answer_to_a_cant_miss_question_counts_as_present() -> None:
    chat = chat_with(FakeFacts(ALICE_RECORD))
    await chat.send("check symptoms")
    await chat.send("my son is 6, he has a fever and a rash")
    await chat.send("no")
    assert chat.pending == "non_blanching_rash"
    await chat.send("purple")  # not an answer: asked again
    assert chat.pending == "non_blanching_rash"
    await chat.send("hmm")  # still no answer
    assert chat.last[0].text.startswith("Call 911 now.")
    assert "so I counted it as present to be safe" in chat.last[0].text


async def test_each_reason_cites_reported_findings_once() -> None:
    chat = chat_with(FakeFacts(ALICE_RECORD))
    await chat.send("check symptoms")
    await chat.send("I have belly pain and a fever")
    await answer_all(chat, {"vomiting": "yes"})
    text = chat.last[0].text
    assert text.startswith("Go to the emergency department now.")
    why = text.split("\nWhy: ")[1]
    assert "yellow" not in why and "jaundice" not in why  # never reported
    assert why == "Abdominal pain, fever and vomiting: together these need the care advised above."
    lines = why.rstrip(".").split("; ")
    assert len(lines) == len(set(lines))


async def test_a_relatives_outcome_is_a_consultation_about_them_not_the_patients_record() -> None:
    recorder = FakeRecorder()
    chat = chat_with(FakeFacts(ALICE_RECORD), recorder)
    await chat.send("check symptoms")
    await chat.send("my son is 6, he has a fever and a rash")
    await answer_all(chat, {"non_blanching_rash": "yes"})
    (record,) = recorder.records
    bundle = triage_bundle(record)
    Bundle.model_validate(bundle)  # valid R4 (R4B) resources
    (entry,) = bundle["entry"]  # no RiskAssessment on the parent
    response = entry["resource"]
    assert response["resourceType"] == "QuestionnaireResponse"
    assert response["subject"] == {"reference": "#relative"}
    assert response["author"] == {"reference": "Patient/1"}
    (person,) = response["contained"]
    assert person["resourceType"] == "RelatedPerson"
    assert person["patient"] == {"reference": "Patient/1"}
    assert person["relationship"][0]["coding"][0]["code"] == "SON"
    assert person["gender"] == "male"
    items = {i["linkId"]: i["answer"] for i in response["item"]}
    assert items["subject-age"] == [
        {
            "valueQuantity": {
                "value": 6.0,
                "unit": "years",
                "system": "http://unitsofmeasure.org",
                "code": "a",
            }
        }
    ]
    assert items["outcome"][0]["valueCoding"]["code"] == Level.EMERGENCY_AMBULANCE.value


async def test_a_red_flag_about_a_relative_is_filed_about_them() -> None:
    recorder = FakeRecorder()
    chat = chat_with(FakeFacts(ALICE_RECORD), recorder)
    texts = await chat.send("my husband has crushing chest pain and is sweating")
    assert "This advice is for your husband." in texts[0]
    (record,) = recorder.records
    assert record.relative is not None and record.relative.relation.code == "HUSB"
    assert len(triage_bundle(record)["entry"]) == 1


def test_patient_facts_from_the_record() -> None:
    patient = {"resourceType": "Patient", "birthDate": "1981-03-02", "gender": "female"}
    pregnant = {
        "resourceType": "Observation",
        "status": "final",
        "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": "LA15173-0"}]},
    }
    facts = patient_facts(patient, pregnant, NOW.date())
    assert facts == Patient(
        age_years=45.722, sex=Sex.FEMALE, pregnant=True, from_writer_record=True
    )
    assert patient_facts({"gender": "unknown"}, None, NOW.date()) == Patient(
        from_writer_record=True
    )
    assert patient_facts({"birthDate": "2030-01-01"}, None, NOW.date()).age_years is None
