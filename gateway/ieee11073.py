"""IEEE 11073-20601 SFLOAT (16-bit) and FLOAT (32-bit) numbers, special values included.

Annex F.8 of IEEE 11073-20601: value = mantissa * 10**exponent, both two's complement;
SFLOAT has a 4-bit exponent and a 12-bit mantissa, FLOAT an 8-bit exponent and a 24-bit
mantissa. With exponent 0, the mantissas 0x7FF/0x7FFFFF (NaN), 0x800/0x800000 (NRes),
0x7FE/0x7FFFFE (+INFINITY), 0x802/0x800002 (-INFINITY) and 0x801/0x800001 (reserved)
are special values, never numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.codes import SpecialValue

Numeric = float | SpecialValue

_SFLOAT_SPECIALS: dict[int, SpecialValue] = {
    0x07FF: SpecialValue.NAN,
    0x0800: SpecialValue.NRES,
    0x07FE: SpecialValue.POSITIVE_INFINITY,
    0x0802: SpecialValue.NEGATIVE_INFINITY,
    0x0801: SpecialValue.RESERVED,
}
_FLOAT_SPECIALS: dict[int, SpecialValue] = {
    0x007FFFFF: SpecialValue.NAN,
    0x00800000: SpecialValue.NRES,
    0x007FFFFE: SpecialValue.POSITIVE_INFINITY,
    0x00800002: SpecialValue.NEGATIVE_INFINITY,
    0x00800001: SpecialValue.RESERVED,
}


def _scale(mantissa: int, exponent: int) -> float:
    # Divide for negative exponents so 189e-1 prints as 18.9, not 18.900000000000002.
    if exponent >= 0:
        return float(mantissa * 10**exponent)
    divisor: int = 10 ** (-exponent)
    return mantissa / divisor


def _compute_sfloat(raw: int) -> Numeric:
    special = _SFLOAT_SPECIALS.get(raw)
    if special is not None:
        return special
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent = raw >> 12
    if exponent >= 0x8:
        exponent -= 0x10
    return _scale(mantissa, exponent)


# Every one of the 65,536 SFLOATs, computed once: decoding is then one tuple index.
SFLOAT_VALUES: tuple[Numeric, ...] = tuple(_compute_sfloat(raw) for raw in range(0x10000))


def decode_sfloat(raw: int) -> Numeric:
    """The value of a 16-bit SFLOAT given as an unsigned integer (little-endian already read)."""
    return SFLOAT_VALUES[raw & 0xFFFF]


def decode_float(raw: int) -> Numeric:
    """The value of a 32-bit FLOAT given as an unsigned integer."""
    raw &= 0xFFFFFFFF
    special = _FLOAT_SPECIALS.get(raw)
    if special is not None:
        return special
    mantissa = raw & 0x00FFFFFF
    if mantissa >= 0x00800000:
        mantissa -= 0x01000000
    exponent = raw >> 24
    if exponent >= 0x80:
        exponent -= 0x100
    return _scale(mantissa, exponent)


def _encode(
    value: Numeric,
    exponent: int,
    specials: Mapping[int, SpecialValue],
    name: str,
    exponent_bits: int,
    mantissa_bits: int,
    largest: int,
) -> int:
    """Shared SFLOAT / FLOAT packing: specials by table, else exponent over mantissa."""
    if isinstance(value, SpecialValue):
        for raw, special in specials.items():
            if special is value:
                return raw
        raise ValueError(f"{value} has no {name} form")
    scale: float = 10.0 ** (-exponent)
    mantissa = round(value * scale)
    if not -largest <= mantissa <= largest:
        raise ValueError(f"{value} does not fit in {name} at exponent {exponent}")
    exponent_field = exponent & ((1 << exponent_bits) - 1)
    return (exponent_field << mantissa_bits) | (mantissa & ((1 << mantissa_bits) - 1))


def encode_sfloat(value: Numeric, exponent: int = 0) -> int:
    """The 16-bit SFLOAT for a value at a fixed decimal exponent (for the simulator)."""
    return _encode(value, exponent, _SFLOAT_SPECIALS, "SFLOAT", 4, 12, 2045)


def encode_float(value: Numeric, exponent: int = 0) -> int:
    """The 32-bit FLOAT for a value at a fixed decimal exponent (for the simulator)."""
    return _encode(value, exponent, _FLOAT_SPECIALS, "FLOAT", 8, 24, 0x7FFFFD)
