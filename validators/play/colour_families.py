"""Tolerant colour families for the prompt's words: "light blue", "dark", "dark brown", "yellow",
"dark green", "light brown", "dark gray".

Models pick many shades for one word ((0, 100, 0) and (34, 139, 34) are both "dark green"),
so each family is a region of hue/lightness/saturation, not a list of names. The bounds were
set on the fixture games and the CSS named colours a model tends to use.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

RGB = Sequence[int]


def _hls(rgb: RGB) -> tuple[float, float, float]:
    """(hue in degrees, lightness 0..1, HSV saturation 0..1) - HSV saturation separates greys
    from colours better than HLS saturation does for dark shades."""
    r, g, b = (max(0, min(255, int(c))) / 255.0 for c in rgb[:3])
    h, lightness, _ = colorsys.rgb_to_hls(r, g, b)
    _, s, _ = colorsys.rgb_to_hsv(r, g, b)
    return h * 360.0, lightness, s


def is_light(rgb: RGB) -> bool:
    return _hls(rgb)[1] >= 0.6


def is_dark(rgb: RGB) -> bool:
    return _hls(rgb)[1] <= 0.45


def is_light_blue(rgb: RGB) -> bool:
    """Light blue, sky blue, powder blue, light cyan-ish blue: hue from cyan to blue, light."""
    h, lightness, s = _hls(rgb)
    return 165 <= h <= 250 and lightness >= 0.55 and s >= 0.06


def is_dark_brown(rgb: RGB) -> bool:
    h, lightness, s = _hls(rgb)
    return (5 <= h <= 40) and lightness <= 0.5 and s >= 0.25


def is_yellow(rgb: RGB) -> bool:
    """Yellow to gold and mustard (dark goldenrod counts: a model's "yellow land")."""
    h, lightness, s = _hls(rgb)
    return 38 <= h <= 68 and s >= 0.35 and lightness >= 0.3


def is_dark_green(rgb: RGB) -> bool:
    h, lightness, s = _hls(rgb)
    return 75 <= h <= 170 and lightness <= 0.45 and s >= 0.25


def is_light_brown(rgb: RGB) -> bool:
    """Tan, burlywood, peru, sandy brown, khaki-brown."""
    h, lightness, s = _hls(rgb)
    return 15 <= h <= 50 and 0.35 <= lightness <= 0.85 and 0.15 <= s <= 0.8


def is_dark_gray(rgb: RGB) -> bool:
    _, lightness, s = _hls(rgb)
    return s <= 0.15 and 0.08 <= lightness <= 0.7  # CSS "darkgray" (169, 169, 169) is 0.66


def land_family(rgb: RGB) -> str | None:
    if is_yellow(rgb):
        return "yellow"
    if is_dark_brown(rgb):
        return "dark brown"
    return None


def pipe_family(rgb: RGB) -> str | None:
    for name, test in (("dark green", is_dark_green), ("light brown", is_light_brown),
                       ("dark gray", is_dark_gray)):
        if test(rgb):
            return name
    return None
