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


def test_a_very_long_note_is_still_fast_enough() -> None:
    note = "Cough and runny nose, no fever, no chest pain. " * 400
    assert assess(note).level is Level.SELF_CARE
