"""What the game draws on its window, frame by frame: the draw record.

The window the game gets from `set_mode` is a Surface subclass of ours, so its `fill` and `blit`
are seen; `pygame.draw.*` calls on it are seen through wrapped functions; `Font.render` notes
which surface holds which text, so a later blit of it records the text and where it landed.

One op is a list: [kind, [r, g, b] or None, [x, y, w, h], width, extra], where extra is the
radius (circle), the points (polygon, lines), the text (text) or None. Standard library and
pygame only: this runs in the sandbox.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pygame
import pygame.freetype
import pygame.sysfont

real_draw = {name: getattr(pygame.draw, name) for name in
             ("rect", "circle", "ellipse", "polygon", "line", "lines", "aaline", "aalines", "arc")}
real_set_mode = pygame.display.set_mode
real_font_class = pygame.font.Font

# Where each draw function takes its width and its shape-specific argument (after surface, color).
_WIDTH_ARG = {"rect": (1, 0), "circle": (2, 0), "ellipse": (1, 0), "polygon": (1, 0),
              "line": (2, 1), "lines": (2, 1), "aaline": (None, 1), "aalines": (None, 1),
              "arc": (3, 1)}


class Recorder:
    def __init__(self) -> None:
        self.frame_ops: list[list[Any]] = []
        self.screen: ScreenSurface | None = None
        self.texts: OrderedDict[int, tuple[pygame.Surface, str, list[int] | None]] = OrderedDict()
        self.offscreen: OrderedDict[int, tuple[pygame.Surface, list[list[Any]]]] = OrderedDict()

    def add(self, op: list[Any]) -> None:
        self.frame_ops.append(op)

    def take_frame(self) -> list[list[Any]]:
        ops, self.frame_ops = self.frame_ops, []
        return ops

    def note_text(self, surface: pygame.Surface, text: str, color: list[int] | None) -> None:
        self.texts[id(surface)] = (surface, text, color)
        while len(self.texts) > 256:  # games re-render text every frame; keep the recent ones
            self.texts.popitem(last=False)

    def note_offscreen(self, surface: pygame.Surface, op: list[Any]) -> None:
        """A shape drawn on a surface other than the window (a sprite's image): kept, so a
        blit of that surface onto the window records the shape where it lands."""
        entry = self.offscreen.get(id(surface))
        if entry is None or entry[0] is not surface:
            entry = (surface, [])
            self.offscreen[id(surface)] = entry
        w, h = surface.get_size()
        if op[0] == "fill" and op[2][2] >= w and op[2][3] >= h:
            entry[1].clear()  # a fill of the whole surface covers what was drawn before
        entry[1].append(op)
        del entry[1][:-256]  # enough for a whole frame drawn on a canvas first
        self.offscreen.move_to_end(id(surface))
        while len(self.offscreen) > 256:
            self.offscreen.popitem(last=False)

    def placed_ops(self, source: pygame.Surface, box: list[int], area: Any) -> list[list[Any]] | None:
        """The text or shapes an off-screen surface holds, moved to where it is blitted; None
        when nothing is known about it (an image, a transformed copy)."""
        text = self.texts.get(id(source))
        if text is not None and text[0] is source:
            return [["text", text[2], box, 0, text[1]]]
        entry = self.offscreen.get(id(source))
        if entry is None or entry[0] is not source or not entry[1]:
            return None
        dx, dy = box[0], box[1]
        if area is not None:
            r = pygame.Rect(area)
            dx, dy = dx - r.x, dy - r.y
        moved = []
        for kind, color, (x, y, w, h), width, extra in entry[1]:
            if isinstance(extra, list):
                extra = [[px + dx, py + dy] for px, py in extra]
            moved.append([kind if kind != "fill" else "rect", color, [x + dx, y + dy, w, h], width, extra])
        return moved


RECORDER = Recorder()


def rgb(color: Any, surface: pygame.Surface | None = None) -> list[int] | None:
    try:
        if isinstance(color, int) and surface is not None:
            c = surface.unmap_rgb(color)
        else:
            c = pygame.Color(color)
        return [c.r, c.g, c.b]
    except (ValueError, TypeError, pygame.error):
        return None


def _box(rect: Any) -> list[int]:
    r = pygame.Rect(rect)
    return [r.x, r.y, r.w, r.h]


def _intended_blit_box(source: pygame.Surface, dest: Any, area: Any, drawn: pygame.Rect) -> list[int]:
    """Where the game put a blit, unclipped: text that runs off the window keeps its size."""
    try:
        at = pygame.Rect(dest).topleft if not isinstance(dest, tuple | list) or len(dest) != 2 else dest
        size = pygame.Rect(area).size if area is not None else source.get_size()
        return [round(float(at[0])), round(float(at[1])), int(size[0]), int(size[1])]
    except (TypeError, ValueError):
        return _box(drawn)


class ScreenSurface(pygame.Surface):
    """The game's window: a plain surface whose fills and blits are recorded."""

    def fill(self, color: Any, rect: Any = None, special_flags: int = 0) -> pygame.Rect:
        box = super().fill(color, rect, special_flags)
        RECORDER.add(["fill", rgb(color, self), _box(box), 0, None])
        return box

    def blit(self, source: pygame.Surface, dest: Any, area: Any = None,
             special_flags: int = 0) -> pygame.Rect:
        drawn = super().blit(source, dest, area, special_flags)
        box = _intended_blit_box(source, dest, area, drawn)
        ops = RECORDER.placed_ops(source, box, area)
        for op in ops or [["blit", None, box, 0, None]]:
            RECORDER.add(op)
        return drawn

    def blits(self, blit_sequence: Any, doreturn: Any = 1) -> list[pygame.Rect] | None:
        """Sprite groups draw with blits(): each blit is recorded like a single one."""
        rects = [self.blit(*item) for item in blit_sequence]
        return rects if doreturn else None


class OffscreenSurface(pygame.Surface):
    """What `pygame.Surface(...)` makes for the game: its fills and the text and shapes blitted
    onto it are kept (see note_offscreen), so a canvas drawn first and blitted whole onto the
    window is recorded like a window drawn directly."""

    def fill(self, color: Any, rect: Any = None, special_flags: int = 0) -> pygame.Rect:
        box = super().fill(color, rect, special_flags)
        RECORDER.note_offscreen(self, ["fill", rgb(color, self), _box(box), 0, None])
        return box

    def blit(self, source: pygame.Surface, dest: Any, area: Any = None,
             special_flags: int = 0) -> pygame.Rect:
        drawn = super().blit(source, dest, area, special_flags)
        for op in RECORDER.placed_ops(source, _intended_blit_box(source, dest, area, drawn), area) or []:
            RECORDER.note_offscreen(self, op)
        return drawn


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int | None, name: str,
         default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if index is not None and len(args) > index else default


def _intended_box(name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                  drawn: pygame.Rect) -> tuple[list[int], Any]:
    """The shape as the game asked for it, not clipped to the window (text or pipes that run
    off the screen keep their true extent), and the shape's extra (radius or points)."""
    try:
        if name in ("rect", "ellipse", "arc"):
            return _box(_arg(args, kwargs, 0, "rect", drawn)), None
        if name == "circle":
            center = _arg(args, kwargs, 0, "center", None)
            radius = float(_arg(args, kwargs, 1, "radius", 0))
            cx, cy = float(center[0]), float(center[1])
            return [round(cx - radius), round(cy - radius), round(2 * radius), round(2 * radius)], radius
        if name in ("polygon", "lines", "aalines"):
            index = 1 if name != "polygon" else 0
            points = [[round(float(p[0])), round(float(p[1]))]
                      for p in _arg(args, kwargs, index, "points", [])]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)], points
    except (TypeError, ValueError, IndexError):
        pass
    return _box(drawn), None


def _wrap_draw(name: str) -> Any:
    real = real_draw[name]
    width_at, _ = _WIDTH_ARG[name]
    filled_by_default = name in ("rect", "circle", "ellipse", "polygon")

    def draw(surface: pygame.Surface, color: Any, *args: Any, **kwargs: Any) -> pygame.Rect:
        drawn = real(surface, color, *args, **kwargs)
        width = _arg(args, kwargs, width_at, "width", 0 if filled_by_default else 1)
        box, extra = _intended_box(name, args, kwargs, drawn)
        try:
            width = int(width)
        except (TypeError, ValueError):
            width = 0
        op = [name, rgb(color, surface), box, width, extra]
        if surface is RECORDER.screen:
            RECORDER.add(op)
        else:
            RECORDER.note_offscreen(surface, op)
        return drawn

    draw.__name__ = name
    return draw


class RecordingFont(real_font_class):  # type: ignore[misc, valid-type]
    """A Font whose rendered surfaces remember their text, so blits of them are recorded."""

    def render(self, text: Any, antialias: Any, color: Any, background: Any = None) -> pygame.Surface:
        surface = super().render(text, antialias, color, background)
        RECORDER.note_text(surface, str(text), rgb(color))
        return surface


class RecordingFreetypeFont(pygame.freetype.Font):  # type: ignore[misc]
    """pygame.freetype's Font: render() surfaces remember their text; render_to() on the
    window records the text where it was drawn."""

    def render(self, text: Any, fgcolor: Any = None, *args: Any, **kwargs: Any) -> Any:
        surface, rect = super().render(text, fgcolor, *args, **kwargs)
        RECORDER.note_text(surface, str(text), rgb(fgcolor) if fgcolor is not None else None)
        return surface, rect

    def render_to(self, surf: Any, dest: Any, text: Any, fgcolor: Any = None, *args: Any,
                  **kwargs: Any) -> pygame.Rect:
        rect = super().render_to(surf, dest, text, fgcolor, *args, **kwargs)
        if surf is RECORDER.screen:
            RECORDER.add(["text", rgb(fgcolor) if fgcolor is not None else None, _box(rect), 0,
                          str(text)])
        return rect


def set_mode(size: Any = (0, 0), flags: int = 0, *args: Any, **kwargs: Any) -> pygame.Surface:
    display = real_set_mode(size, flags, *args, **kwargs)
    RECORDER.screen = ScreenSurface(display.get_size(), 0, display)
    return RECORDER.screen


def get_surface() -> pygame.Surface | None:
    return RECORDER.screen if pygame.display.get_init() else None


def install() -> None:
    for name in real_draw:
        setattr(pygame.draw, name, _wrap_draw(name))
    pygame.display.set_mode = set_mode
    pygame.Surface = OffscreenSurface
    pygame.display.get_surface = get_surface
    pygame.font.Font = RecordingFont
    # SysFont builds its fonts through pygame.sysfont's own `Font` name
    pygame.sysfont.Font = RecordingFont
    pygame.freetype.Font = RecordingFreetypeFont  # pygame.freetype.SysFont builds through it
