"""Properties of how streams are cut into pieces: nothing is lost, split characters arrive whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.generation.engines.base import Utf8Pieces
from pipeline.generation.engines.replay import split_token_like


@st.composite
def bytes_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    text = draw(st.one_of(st.binary(max_size=200), st.text(max_size=80).map(str.encode)))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=20)))
    return text, cuts


@given(bytes_and_cuts())
def test_any_cut_of_any_bytes_decodes_like_the_whole(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    utf8 = Utf8Pieces()
    bounds = [0, *cuts, len(data)]
    pieces = [utf8.feed(data[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    pieces.append(utf8.flush())
    assert "".join(pieces) == data.decode("utf-8", errors="replace")


@given(st.text(max_size=80).map(str.encode), st.data())
def test_valid_text_cut_anywhere_never_yields_a_replacement(data: bytes, draw: st.DataObject) -> None:
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=10)))
    utf8 = Utf8Pieces()
    bounds = [0, *cuts, len(data)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        assert "\ufffd" not in utf8.feed(data[a:b]) or "\ufffd" in data.decode("utf-8")


@given(st.text(max_size=300))
def test_token_like_pieces_join_back_to_the_text(text: str) -> None:
    pieces = split_token_like(text)
    assert "".join(pieces) == text
    assert all(pieces) and all(len(piece) <= 8 for piece in pieces)
