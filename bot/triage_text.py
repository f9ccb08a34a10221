"""Whether triage blends the learned text model: decided here, once, from the settings."""

from __future__ import annotations

from bot.settings import Settings
from dialogs.triage.text_model import TextModel, load_text_model


def triage_text_model(settings: Settings) -> TextModel | None:
    """The shipped text model when `CAREBOT_TRIAGE_TEXT_MODEL` is on (the default), else
    None (the rules and conditions alone). A model file that does not match this code
    raises TextModelError, so a bad deployment fails at start, not in a patient's turn."""
    return load_text_model() if settings.triage_text_model else None
