"""Text inside the screen: every rendered text's blit rectangle must lie inside the window.

The draw record keeps a blit's intended rectangle, not the clipped one, so a game-over line
centred on a too-narrow window shows how far it runs out. One finding per text (numbers in it
folded, so 'Score: 3' and 'Score: 4' are one), at its worst frame.
"""

from __future__ import annotations

import re

from pipeline.codes import finding
from pipeline.findings import Finding
from validators.play.track import Played, where

TOLERANCE_PX = 3   # a font's box is a little taller than its glyphs: a few pixels is not visible


def out_of_window(box: list[int], window: tuple[int, int]) -> tuple[str, int]:
    """The edge a rectangle extends furthest past, and by how many pixels (<= 0: inside)."""
    x, y, w, h = box
    width, height = window
    edges = {"left": -x, "top": -y, "right": x + w - width, "bottom": y + h - height}
    edge = max(edges, key=lambda e: edges[e])
    return edge, edges[edge]


def check_text_inside(runs: dict[str, Played]) -> list[Finding]:
    worst: dict[str, tuple[int, str, Played, int, str]] = {}
    shown: dict[tuple[str, str], set[int]] = {}   # (run, text) -> frames it is out in
    for run in runs.values():
        for frame in run.frames:
            for op in frame["ops"]:
                if op[0] != "text" or not str(op[4]).strip():
                    continue
                edge, px = out_of_window(op[2], run.window)
                if px <= TOLERANCE_PX:
                    continue
                key = re.sub(r"\d+", "#", str(op[4]))
                shown.setdefault((run.name, key), set()).add(frame["f"])
                if key not in worst or px > worst[key][0]:
                    worst[key] = (px, edge, run, frame["f"], str(op[4]))
    return [finding("requirements/text-off-screen",
                    f"text {text!r} extends {px} px past the {edge} edge", None,
                    **where(run, frame, shown[(run.name, key)], text=text, edge=edge, px=px))
            for key, (px, edge, run, frame, text) in worst.items()]
