"""Input for the game under test, decided per frame by a driver.

A driver answers, at every frame boundary, which actions happen now: `("down", key)`,
`("up", key)` or `("quit", None)`. It is shown the previous frame's draw record, so a
controller that steers by what it sees (issue 7's autopilot) plugs in beside the scripted one
through DRIVERS. Actions reach the game both through the SDL event queue (KEYDOWN/KEYUP/QUIT,
as `event.get/poll/wait` deliver them) and through `pygame.key.get_pressed()`, which does not
see posted events on its own. Standard library and pygame only: this runs in the sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pygame

Action = tuple[str, "str | None"]

KEY_TEXT = {"space": " ", "escape": "\x1b", "return": "\r", "tab": "\t"}


def key_code(name: str) -> int:
    for attr in (f"K_{name}", f"K_{name.upper()}", f"K_{name.lower()}"):
        if hasattr(pygame, attr):
            return int(getattr(pygame, attr))
    raise ValueError(f"unknown key name {name!r} in scenario")


class Driver(Protocol):
    def actions_for_frame(self, frame: int, last_frame_ops: Sequence[Any]) -> list[Action]: ...


class ScriptDriver:
    """Actions at fixed frames, from a scenario's `steps`.

    A step: {"at": FRAME, "press": KEY, "hold": FRAMES=1, "repeat": N=1, "every": FRAMES}
    or {"at": FRAME, "event": "quit"}.
    """

    def __init__(self, steps: Sequence[dict[str, Any]]) -> None:
        self._plan: dict[int, list[Action]] = {}
        for step in steps:
            start = int(step["at"])
            if step.get("event") == "quit":
                self._plan.setdefault(start, []).append(("quit", None))
                continue
            key, hold = str(step["press"]), max(1, int(step.get("hold", 1)))
            key_code(key)  # fail early on a typo in the scenario
            every = int(step.get("every", hold + 1))
            for i in range(int(step.get("repeat", 1))):
                at = start + i * every
                self._plan.setdefault(at, []).append(("down", key))
                self._plan.setdefault(at + hold, []).append(("up", key))

    def actions_for_frame(self, frame: int, last_frame_ops: Sequence[Any]) -> list[Action]:
        return self._plan.get(frame, [])


DRIVERS: dict[str, type] = {"script": ScriptDriver}
try:  # the autopilot (issue 7) sits beside this file in the sandbox
    from autopilot import Autopilot

    DRIVERS["autopilot"] = Autopilot
except ImportError:  # pragma: no cover - imported outside the harness dir
    pass


def make_driver(scenario: dict[str, Any]) -> Driver:
    kind = scenario.get("driver", "script")
    if kind not in DRIVERS:
        raise ValueError(f"unknown scenario driver {kind!r}")
    return DRIVERS[kind](scenario.get("steps", []))


class PressedKeys:
    """What `pygame.key.get_pressed()` returns: indexable by any K_ constant."""

    def __init__(self, pressed: frozenset[int]) -> None:
        self._pressed = pressed

    def __getitem__(self, key: int) -> bool:
        return int(key) in self._pressed

    def __len__(self) -> int:
        return 512

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (i in self._pressed for i in range(512))


class InputState:
    """Turns a driver's actions into queued events and the pressed-key set."""

    def __init__(self) -> None:
        self.pressed: set[int] = set()
        self.applied: list[tuple[int, str, str | None]] = []

    def apply(self, frame: int, actions: Sequence[Action]) -> None:
        for kind, key in actions:
            self.applied.append((frame, kind, key))
            if kind == "quit":
                pygame.event.post(pygame.event.Event(pygame.QUIT))
                continue
            assert key is not None
            code = key_code(key)
            text = KEY_TEXT.get(key, key if len(key) == 1 else "")
            if kind == "down":
                self.pressed.add(code)
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0,
                                                     unicode=text, scancode=0))
            else:
                self.pressed.discard(code)
                pygame.event.post(pygame.event.Event(pygame.KEYUP, key=code, mod=0,
                                                     unicode=text, scancode=0))

    def get_pressed(self) -> PressedKeys:
        return PressedKeys(frozenset(self.pressed))
