"""Any text gets an answer: the engine never raises, whatever it is given."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.triage import Level, assess

WORDS = st.sampled_from(
    [
        "no", "pain", "chest", "fever", "38.5", "BP", "180/110", "pas", "de", "fièvre", ",",
        ".", "history", "of", "denies", "sudden", "10/10", "°F", "sats", "88%", "enceinte",
        "weeks", "3", "days", "ans", "baby", "~", "*", "(", ")", "\n", "l'œil", "can't",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS, max_size=40).map(" ".join))
def test_word_salad_never_raises(text: str) -> None:
    assert isinstance(assess(text).level, Level)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_never_raises(text: str) -> None:
    assert isinstance(assess(text, language="fr").level, Level)


# Speed on long and huge inputs is measured in bench/triage.py (issue 11): these check
# that repetition changes neither the negations nor the level.
def test_a_long_repetitive_note_keeps_its_negations() -> None:
    note = "Cough and runny nose, no fever, no chest pain. " * 400
    result = assess(note)
    assert result.level is Level.SELF_CARE
    assert {"fever", "chest_pain"} <= {f.id for f in result.findings if not f.present}


def test_the_repeated_clause_of_issue_10_reads_like_one_clause() -> None:
    clause = "I do not have a fever, not a cough but a headache; "
    once, many = assess(clause), assess(clause * 4800)
    assert many.level is once.level
    assert many.present_ids == once.present_ids == {"headache"}
