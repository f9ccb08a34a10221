"""IEEE 11073-20601 numbers against the standard's own examples (Annex F.8)."""

from __future__ import annotations

import pytest

from gateway.codes import SpecialValue
from gateway.ieee11073 import decode_float, decode_sfloat, encode_float, encode_sfloat


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (0x0072, 114.0),  # mantissa 114, exponent 0
        (0xF014, 2.0),  # exponent -1, mantissa 20
        (0x008A, 138.0),  # not 1.38e-6: the exponent is two's complement, not biased
        (0xF0BD, 18.9),
        (0xF09F, 15.9),
        (0x0FFF, -1.0),  # mantissa -1
        (0x0801 + 0x1000, 10 * -2047.0),  # exponent 1, mantissa -2047 is a number
        (0x8001, 1e-8),
        (0x7001, 1e7),
    ],
)
def test_sfloat_numbers(raw: int, value: float) -> None:
    assert decode_sfloat(raw) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x07FF, SpecialValue.NAN),
        (0x0800, SpecialValue.NRES),
        (0x07FE, SpecialValue.POSITIVE_INFINITY),
        (0x0802, SpecialValue.NEGATIVE_INFINITY),
        (0x0801, SpecialValue.RESERVED),
    ],
)
def test_sfloat_specials(raw: int, special: SpecialValue) -> None:
    assert decode_sfloat(raw) is special
    assert encode_sfloat(special) == raw


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (0xFE000EB0, 37.6),  # Health Thermometer example: exponent -2, mantissa 3760
        (0x00000072, 114.0),
        (0xFF00016F, 36.7),
        (0x00FFFFFF, -1.0),
        (0x02000001, 100.0),
    ],
)
def test_float_numbers(raw: int, value: float) -> None:
    assert decode_float(raw) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("raw", "special"),
    [
        (0x007FFFFF, SpecialValue.NAN),
        (0x00800000, SpecialValue.NRES),
        (0x007FFFFE, SpecialValue.POSITIVE_INFINITY),
        (0x00800002, SpecialValue.NEGATIVE_INFINITY),
        (0x00800001, SpecialValue.RESERVED),
    ],
)
def test_float_specials(raw: int, special: SpecialValue) -> None:
    assert decode_float(raw) is special
    assert encode_float(special) == raw


def test_special_mantissa_with_nonzero_exponent_is_a_number() -> None:
    assert decode_sfloat(0x17FF) == 20470.0
    assert decode_float(0x017FFFFF) == 83886070.0


def test_encode_rejects_overflow() -> None:
    with pytest.raises(ValueError):
        encode_sfloat(5000.0)
    with pytest.raises(ValueError):
        encode_float(1e9)
