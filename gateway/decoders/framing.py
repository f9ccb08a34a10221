"""What every GATT decoder shares: the `DecodeError`, exact frame lengths, Date Time, ranges.

A frame must be exactly as long as its flags announce. The GSS lets later versions append
fields, but a frame whose flags do not account for every byte is more often garbage or a
misrouted characteristic (60,000 zero bytes once decoded as a blood pressure of 0/0), so
we refuse it rather than read a clinical value out of its first bytes. No attribute value
is longer than 512 octets (Core Spec Vol 3 Part F 3.2.9).
"""

from __future__ import annotations

import struct
from enum import IntFlag
from typing import TypeVar

from gateway.codes import CharacteristicUuid, SpecialValue
from gateway.ieee11073 import SFLOAT_VALUES, Numeric
from gateway.measurements import GattDateTime

MAX_ATTRIBUTE_SIZE = 512
DATE_TIME_SIZE = 7
_SHOWN_BYTES = 32  # an error message names the start of a frame, not all of it

U16 = struct.Struct("<H")
U16X2 = struct.Struct("<HH")
S16 = struct.Struct("<h")
U32 = struct.Struct("<I")
_DATE_TIME = struct.Struct("<HBBBBB")  # Date Time 0x2A08, 7 bytes


class DecodeError(ValueError):
    """A GATT frame that does not match its characteristic's layout."""

    def __init__(self, uuid: CharacteristicUuid | None, reason: str, data: bytes) -> None:
        self.uuid = uuid
        self.reason = reason
        self.data = bytes(data)
        name = f"0x{uuid:04X}" if uuid is not None else "frame"
        shown = self.data[:_SHOWN_BYTES].hex()
        if len(self.data) > _SHOWN_BYTES:
            shown += f"... {len(self.data)} bytes"
        super().__init__(f"{name}: {reason} ({shown})")


_FLAG_CACHES: dict[type[IntFlag], dict[int, IntFlag]] = {}
_F = TypeVar("_F", bound=IntFlag)


def flags_of(kind: type[_F], raw: int) -> _F:
    """`kind(raw)`, memoised: constructing an IntFlag costs about a microsecond."""
    cache = _FLAG_CACHES.get(kind)
    if cache is None:
        cache = _FLAG_CACHES[kind] = {}
    cached = cache.get(raw)
    if cached is None:
        if len(cache) > 4096:  # values are few in practice; never grow without bound
            cache.clear()
        cached = cache[raw] = kind(raw)
    return cached  # type: ignore[return-value]


def size_table(base: int, *fields: tuple[int, int]) -> tuple[int, ...]:
    """Frame length for each flags byte: base plus every flagged field (one lookup)."""
    return tuple(base + sum(n for bit, n in fields if flags & bit) for flags in range(256))


def flagged_frame(uuid: CharacteristicUuid, data: bytes, sizes: tuple[int, ...]) -> int:
    """The flags byte of a frame exactly as long as its flags announce; else `DecodeError`."""
    if not data:
        raise DecodeError(uuid, "empty frame", data)
    flags = data[0]
    if len(data) != sizes[flags]:  # the one test on the hot path; `exact` words the error
        exact(uuid, data, sizes[flags], f"fields flagged by 0x{flags:02X}")
    return flags


def exact(uuid: CharacteristicUuid, data: bytes, size: int, what: str) -> None:
    """Refuse a frame shorter or longer than `size`."""
    if len(data) < size:
        raise DecodeError(uuid, f"{what}: need {size} bytes, got {len(data)}", data)
    if len(data) > size:
        raise DecodeError(
            uuid, f"{what}: {len(data) - size} bytes after the last field of {size}", data
        )


def need(data: bytes, size: int, uuid: CharacteristicUuid, what: str) -> None:
    """Refuse a frame shorter than `size`."""
    if len(data) < size:
        raise DecodeError(uuid, f"{what}: need {size} bytes, got {len(data)}", data)


def not_oversized(uuid: CharacteristicUuid, data: bytes) -> None:
    """Refuse more bytes than any attribute value can hold."""
    if len(data) > MAX_ATTRIBUTE_SIZE:
        raise DecodeError(
            uuid, f"{len(data)} bytes: longer than an attribute value ({MAX_ATTRIBUTE_SIZE})", data
        )


def date_time(data: bytes, offset: int, uuid: CharacteristicUuid) -> GattDateTime:
    """Date Time 0x2A08 (GSS 3.70): year 1582-9999 or 0, month 0-12, day 0-31, h/m/s."""
    year, month, day, hour, minute, second = _DATE_TIME.unpack_from(data, offset)
    if (
        (year != 0 and not 1582 <= year <= 9999)
        or month > 12
        or day > 31
        or hour > 23
        or minute > 59
        or second > 59
    ):
        raise DecodeError(uuid, "date time out of range", data)
    return GattDateTime(year or None, month or None, day or None, hour, minute, second)


# Per raw SFLOAT: True where it is a number that no rate, pressure or concentration can be
# (negative), or no percentage (outside 0-100). SFLOAT 0xFFFF is -0.1 by IEEE 11073-20601
# (exponent -1, mantissa -1), the pattern of an erased or unset field: no device measures
# a negative rate, so it is refused, not charted. Special values (NaN, NRes, infinities)
# are kept for `dataAbsentReason`.
NEGATIVE_SFLOAT: tuple[bool, ...] = tuple(
    not isinstance(v, SpecialValue) and v < 0 for v in SFLOAT_VALUES
)
NOT_PERCENT_SFLOAT: tuple[bool, ...] = tuple(
    not isinstance(v, SpecialValue) and not 0 <= v <= 100 for v in SFLOAT_VALUES
)


def negative(uuid: CharacteristicUuid, data: bytes, what: str, raw: int, unit: str) -> DecodeError:
    """The error for a negative rate, pressure or concentration."""
    value = SFLOAT_VALUES[raw & 0xFFFF]
    return DecodeError(uuid, f"{what} {value:g} {unit}: cannot be negative", data)


def not_percent(uuid: CharacteristicUuid, data: bytes, what: str, raw: int) -> DecodeError:
    """The error for a percentage outside 0-100."""
    value = SFLOAT_VALUES[raw & 0xFFFF]
    return DecodeError(uuid, f"{what} {value:g} %: not a percentage (0-100)", data)


def sfloat_non_negative(
    raw: int, uuid: CharacteristicUuid, data: bytes, what: str, unit: str
) -> Numeric:
    """A rate, pressure or concentration SFLOAT: a special value or a number >= 0."""
    if NEGATIVE_SFLOAT[raw]:
        raise negative(uuid, data, what, raw, unit)
    return SFLOAT_VALUES[raw]


def sfloat_percentage(raw: int, uuid: CharacteristicUuid, data: bytes, what: str) -> Numeric:
    """A percentage SFLOAT: a special value or a number from 0 to 100."""
    if NOT_PERCENT_SFLOAT[raw]:
        raise not_percent(uuid, data, what, raw)
    return SFLOAT_VALUES[raw]
