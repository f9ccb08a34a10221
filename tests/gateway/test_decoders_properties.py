"""Property: any byte string decodes to a measurement or raises DecodeError, nothing else."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.codes import CharacteristicUuid
from gateway.decoders import DECODERS, DecodeError, decode
from gateway.to_json import to_json_text

_UUIDS = sorted(DECODERS)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_UUIDS), st.binary(max_size=40))
def test_any_bytes_decode_or_raise_decode_error(uuid: CharacteristicUuid, data: bytes) -> None:
    try:
        decoded = decode(uuid, data)
    except DecodeError as error:
        assert error.uuid == uuid
        return
    # A decoded value always renders as JSON, specials included.
    assert to_json_text(decoded)


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(_UUIDS), st.integers(0, 255), st.binary(min_size=0, max_size=40))
def test_any_flags_with_any_body(uuid: CharacteristicUuid, flags: int, body: bytes) -> None:
    data = bytes([flags]) + body
    with contextlib.suppress(DecodeError):
        decode(uuid, data)


def test_unsupported_uuid_is_a_decode_error() -> None:
    try:
        decode(CharacteristicUuid.MODEL_NUMBER_STRING, b"abc")
    except DecodeError as error:
        assert "no decoder" in str(error)
    else:
        raise AssertionError("expected DecodeError")
