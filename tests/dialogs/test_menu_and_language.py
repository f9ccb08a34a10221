"""Scripted turns through the runner: menu routing, help, unknown input, language choice."""

from __future__ import annotations

from dialogs.assessment import TriageEngine
from dialogs.base import JSON, DialogContext, Done, Opening, Person, Step, UserInput, Wait
from dialogs.language import LanguageDialog, parse_language
from dialogs.menu import Capabilities, MenuDialog
from dialogs.outcomes import Outcome, TriageOutcome
from dialogs.runner import DialogRunner
from dialogs.triage import Level
from dialogs.triage.advice import EmergencyNumbers
from dialogs.triage.knowledge_base import load_knowledge
from tests.triage.driver import RememberedLanguages

ALICE = Person(account_id="a1", display_name="Alice Martin", language="en")


class EchoCapability:
    """A one-question capability standing in for triage in routing tests."""

    name = "triage"

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        ctx.say(f"started with {args.text}")
        return Wait()

    async def resume(self, ctx: DialogContext) -> Step:
        ctx.say(f"got {ctx.input.text}")
        return Done(TriageOutcome(Level.SELF_CARE))

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        return Done()


def runner(languages: RememberedLanguages) -> DialogRunner:
    language, echo = LanguageDialog(languages), EchoCapability()
    menu = MenuDialog(Capabilities(triage=echo, language=language), EmergencyNumbers())
    return DialogRunner(menu, [language, echo], engine=TriageEngine(load_knowledge()))


async def turn(run: DialogRunner, stack: list[JSON], text: str) -> tuple[list[str], list[JSON]]:
    result = await run.run_turn(ALICE, UserInput(text=text), stack)
    return [r.text for r in result.replies], result.stack


async def test_greeting_names_the_person_and_offers_capabilities() -> None:
    texts, stack = await turn(runner(RememberedLanguages()), [], "Hi there")
    assert texts == [
        "Hello Alice! I'm your care assistant.",
        "I can help you: check symptoms. What would you like to do?",
    ]
    assert stack == []


async def test_help_and_unknown_input_are_answered_politely() -> None:
    run = runner(RememberedLanguages())
    texts, _ = await turn(run, [], "help")
    assert texts[0].startswith("Here is what I can do: check symptoms.")
    assert "911" in texts[0]
    texts, _ = await turn(run, [], "purple elephants")
    assert texts == ['Sorry, I didn\'t understand that. You can say: check symptoms, or "help".']


async def test_capability_words_start_the_child_and_the_stack_carries_it() -> None:
    run = runner(RememberedLanguages())
    texts, stack = await turn(run, [], "I feel sick since yesterday")
    assert texts == ["started with I feel sick since yesterday"]
    assert [f["name"] for f in stack if isinstance(f, dict)] == ["menu", "triage"]
    texts, stack = await turn(run, stack, "it hurts")
    assert texts == ["got it hurts"]
    assert stack == []


async def test_language_dialog_asks_reprompts_and_remembers() -> None:
    languages = RememberedLanguages()
    run = runner(languages)
    texts, stack = await turn(run, [], "language")
    assert texts == ["Which language would you like: English or French?"]
    texts, stack = await turn(run, stack, "klingon")
    assert texts == ["Please choose English or French."]
    assert languages.chosen == {}
    texts, stack = await turn(run, stack, "Français")
    assert texts == ["Très bien, je vous parlerai en français désormais."]
    assert languages.chosen == {"a1": "fr"}
    assert stack == []


def test_parse_language_reads_both_languages_names() -> None:
    assert parse_language("English please") == "en"
    assert parse_language("en français") == "fr"
    assert parse_language("FR") == "fr"
    assert parse_language("deutsch") is None
