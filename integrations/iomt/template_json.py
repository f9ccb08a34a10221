"""Reading template JSON the way MedTech's loader does: BOM tolerated, clear errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class TemplateError(ValueError):
    """A template that does not validate; the message names every problem found."""


def read_json(text: str | bytes) -> Any:
    """Parse a template file (UTF-8, a BOM allowed); TemplateError if it is not JSON."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise TemplateError(f"template is not UTF-8: {error}") from error
    try:
        return json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as error:
        raise TemplateError(f"template is not valid JSON: {error}") from error


def as_object(raw: Any, where: str) -> Mapping[str, Any]:
    """RAW as a JSON object, or TemplateError."""
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where}: expected a JSON object")
    return raw


def as_list(raw: Any, where: str) -> list[Any]:
    """RAW as a JSON array, or TemplateError."""
    if not isinstance(raw, list):
        raise TemplateError(f"{where}: expected a JSON array")
    return raw


def as_bool(raw: Any) -> bool:
    """MedTech writes `required` as true or "true"."""
    return raw is True or (isinstance(raw, str) and raw.strip().lower() == "true")
