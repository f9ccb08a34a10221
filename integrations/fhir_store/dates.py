"""FHIR date, dateTime and instant values as half-open UTC ranges (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class DateFormatError(ValueError):
    """A value is not a FHIR date, dateTime or instant."""


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)


def to_naive_utc(moment: datetime) -> datetime:
    """A datetime as naive UTC (how the store keeps every instant)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def parse_range(text: str) -> tuple[datetime, datetime]:
    """The half-open naive-UTC range [low, high) a FHIR date value covers at its precision."""
    match = _DATE.match(text.strip())
    if match is None:
        raise DateFormatError(f"not a FHIR date: {text!r}")
    parts = match.groupdict()
    try:
        year = int(parts["y"])
        month = int(parts["m"] or 1)
        day = int(parts["d"] or 1)
        hour = int(parts["H"] or 0)
        minute = int(parts["M"] or 0)
        second = int(parts["S"] or 0)
        fraction = (parts["f"] or "")[:6]
        micro = int(fraction.ljust(6, "0")) if fraction else 0
        low = datetime(year, month, day, hour, minute, second, micro)
    except ValueError as error:
        raise DateFormatError(f"not a FHIR date: {text!r}") from error
    if parts["H"] is not None and parts["tz"] is None and parts["S"] is not None:
        # FHIR requires a zone on dateTimes with a time; searches may omit it (then UTC).
        pass
    if parts["tz"] and parts["tz"] != "Z":
        sign = 1 if parts["tz"][0] == "+" else -1
        offset = timedelta(hours=int(parts["tz"][1:3]), minutes=int(parts["tz"][4:6]))
        try:
            low = low - sign * offset
        except OverflowError as error:
            raise DateFormatError(f"{text!r} is out of range in UTC") from error
    try:
        high = _end(low, parts, fraction)
    except (OverflowError, ValueError):
        high = datetime.max  # the range runs to the end of representable time
    return low, high


def _end(low: datetime, parts: dict[str, str | None], fraction: str) -> datetime:
    """The exclusive end of the range starting at LOW, at the value's precision."""
    if parts["m"] is None:
        return low.replace(year=low.year + 1)
    if parts["d"] is None:
        return _add_months(low, 1)
    if parts["H"] is None:
        return low + timedelta(days=1)
    if parts["S"] is None:
        return low + timedelta(minutes=1)
    if parts["f"] is None:
        return low + timedelta(seconds=1)
    return low + timedelta(microseconds=10 ** max(0, 6 - len(fraction)))


def format_instant(moment: datetime) -> str:
    """A naive-UTC datetime as a FHIR instant with microseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def parse_instant(text: str) -> datetime:
    """The start of a FHIR date value, naive UTC (for `_since` and `_lastUpdated`)."""
    return parse_range(text)[0]
