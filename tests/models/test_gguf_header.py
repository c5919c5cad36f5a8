"""The GGUF header reader agrees with the gguf package and refuses damaged bytes cleanly."""

from __future__ import annotations

import struct

import gguf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.models.gguf_header import GGUFFormatError, StringArray, parse_header, read_header


def test_every_field_and_tensor_matches_the_gguf_package(tiny_model):
    ours = read_header(tiny_model)
    reference = gguf.GGUFReader(tiny_model)
    keys = [k for k in reference.fields if not k.startswith("GGUF.")]
    assert list(ours.fields) == keys
    for key in keys:
        mine, theirs = ours.fields[key], reference.fields[key].contents()
        if isinstance(mine, StringArray):
            assert list(mine) == theirs
        elif isinstance(mine, np.ndarray):
            assert mine.tolist() == list(theirs)
        elif isinstance(mine, float):
            assert mine == pytest.approx(theirs, rel=1e-7)
        else:
            assert mine == theirs
    assert [(t.name, t.shape, t.type_id) for t in ours.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type)) for t in reference.tensors
    ]


def test_float32_values_read_as_their_shortest_decimal(tiny_model):
    fields = read_header(tiny_model).fields
    assert fields["qwen2.attention.layer_norm_rms_epsilon"] == 1e-6


def _header(version: int = 3, fields: bytes = b"", n_fields: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, 0, n_fields) + fields


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def test_nested_and_bool_arrays_are_read():
    nested = struct.pack("<IIQ", 9, 9, 2) + struct.pack("<IQ", 7, 2) + b"\x01\x00" \
        + struct.pack("<IQ", 5, 1) + struct.pack("<i", -3)
    header = parse_header(_header(fields=_string("k") + nested, n_fields=1))
    first, second = header.fields["k"]
    assert first.tolist() == [True, False] and second.tolist() == [-3]


@pytest.mark.parametrize("data, message", [
    (b"GGUF" + struct.pack(">I", 3) + bytes(16), "big-endian"),
    (_header(version=7), "unsupported GGUF version 7"),
    (_header(n_fields=10**12), "cannot fit"),
    (_header(fields=_string("k") + struct.pack("<I", 99), n_fields=1), "unknown value type 99"),
    (_header(fields=_string("k") + struct.pack("<IIQ", 9, 8, 10**9), n_fields=1), "does not fit"),
    (b"GGUF\x03", "ends early"),
])
def test_damaged_headers_say_what_is_wrong(data, message):
    with pytest.raises(GGUFFormatError, match=message):
        parse_header(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_after_a_valid_start_parse_or_raise_format_error(tail):
    for prefix in (_header(n_fields=2), _header(fields=_string("general.name"), n_fields=3)):
        try:
            parse_header(prefix + tail)
        except GGUFFormatError:
            pass


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=30), st.lists(st.integers(-2**31, 2**31 - 1),
                                                              max_size=30))
def test_string_and_int_arrays_round_trip(strings, ints):
    body = _string("s") + struct.pack("<IIQ", 9, 8, len(strings)) + b"".join(map(_string, strings))
    body += _string("i") + struct.pack("<IIQ", 9, 5, len(ints)) + struct.pack(f"<{len(ints)}i", *ints)
    fields = parse_header(_header(fields=body, n_fields=2)).fields
    assert list(fields["s"]) == strings and fields["i"].tolist() == ints
