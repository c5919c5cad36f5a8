"""A virtual clock for the game under test: frames cost no wall time, yet the game sees 60 fps.

`pygame.time.Clock.tick(fps)` returns the frame time it was asked for without sleeping;
`pygame.time.get_ticks`, `time.time`, `time.monotonic`, `time.perf_counter`, `time.sleep`,
`pygame.time.wait/delay` and `pygame.time.set_timer` events all follow the same virtual time.
Standard library and pygame only: this module runs inside the sandbox.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pygame

DEFAULT_FRAME_MS = 1000.0 / 60.0

# The real clocks, kept before patching: the harness's own watchdog must measure real time.
real_monotonic, real_monotonic_ns = time.monotonic, time.monotonic_ns
real_time, real_time_ns = time.time, time.time_ns
real_perf_counter, real_perf_counter_ns = time.perf_counter, time.perf_counter_ns
real_sleep = time.sleep


class VirtualTime:
    """Virtual milliseconds since the game started, and the timers that fire on them.

    Only the game's own code sees virtual time: a library it calls (subprocess waiting for
    fc-list under pygame.font.SysFont, say) polls `time.sleep` against the real clock and would
    spin forever, or leap virtual time by minutes, if it saw the virtual one.
    """

    def __init__(self, game_file: str) -> None:
        self.game_file = game_file
        self.now_ms = 0.0
        self._epoch = time.time()
        self._mono0 = time.monotonic()
        self._perf0 = time.perf_counter()
        # event (type or Event) -> [due_ms, interval_ms, loops_left (0 = forever)]
        self._timers: dict[int, list[Any]] = {}
        self.on_advance: Callable[[], None] | None = None

    def advance(self, ms: float) -> None:
        if ms <= 0:
            return
        self.now_ms = round(self.now_ms + ms, 6)  # 60 frames of 1000/60 ms are exactly 1 s
        self._fire_timers()
        if self.on_advance is not None:
            self.on_advance()

    def set_timer(self, event: Any, millis: int, loops: int = 0) -> None:
        key = event.type if isinstance(event, pygame.event.EventType) else int(event)
        self._timers.pop(key, None)
        if millis > 0:
            self._timers[key] = [self.now_ms + millis, float(millis), float(loops), event]

    def _fire_timers(self) -> None:
        for key, timer in list(self._timers.items()):
            due, interval, loops, event = timer
            while due <= self.now_ms:
                post = event if isinstance(event, pygame.event.EventType) else pygame.event.Event(key)
                try:
                    pygame.event.post(post)
                except pygame.error:
                    return  # the game quit pygame; its timers died with it
                due += interval
                if loops:
                    loops -= 1
                    if loops <= 0:
                        self._timers.pop(key, None)
                        break
            timer[0], timer[2] = due, loops

    def _game_calls(self) -> bool:
        return sys._getframe(2).f_code.co_filename == self.game_file

    # The patched functions -------------------------------------------------------------
    def get_ticks(self) -> int:
        return int(self.now_ms)

    def time(self) -> float:
        if not self._game_calls():
            return real_time()
        return self._epoch + self.now_ms / 1000.0

    def time_ns(self) -> int:
        return int(self._epoch * 1e9 + self.now_ms * 1e6) if self._game_calls() else real_time_ns()

    def monotonic(self) -> float:
        if not self._game_calls():
            return real_monotonic()
        return self._mono0 + self.now_ms / 1000.0

    def monotonic_ns(self) -> int:
        return int(self._mono0 * 1e9 + self.now_ms * 1e6) if self._game_calls() else real_monotonic_ns()

    def perf_counter(self) -> float:
        if not self._game_calls():
            return real_perf_counter()
        return self._perf0 + self.now_ms / 1000.0

    def perf_counter_ns(self) -> int:
        return int(self._perf0 * 1e9 + self.now_ms * 1e6) if self._game_calls() else real_perf_counter_ns()

    def sleep(self, seconds: float) -> None:
        if not self._game_calls():
            real_sleep(seconds)
            return
        self.advance(max(0.0, float(seconds)) * 1000.0)

    def wait(self, millis: int) -> int:
        self.advance(float(millis))
        return int(millis)


def make_clock_class(vt: VirtualTime, on_tick: Callable[[], None]) -> type:
    """A drop-in for pygame.time.Clock whose tick advances virtual time instead of sleeping."""

    class VirtualClock:
        def __init__(self) -> None:
            self._last_ms = DEFAULT_FRAME_MS
            self._last_tick_at = vt.now_ms

        def tick(self, framerate: float = 0) -> int:
            frame_ms = 1000.0 / framerate if framerate and framerate > 0 else DEFAULT_FRAME_MS
            # Time the game already spent (sleep, wait) this frame counts toward the frame.
            spent = vt.now_ms - self._last_tick_at
            vt.advance(max(0.0, frame_ms - spent))
            self._last_ms = vt.now_ms - self._last_tick_at
            self._last_tick_at = vt.now_ms
            on_tick()
            return int(round(self._last_ms))

        tick_busy_loop = tick

        def get_time(self) -> int:
            return int(round(self._last_ms))

        def get_rawtime(self) -> int:
            return int(round(self._last_ms))

        def get_fps(self) -> float:
            return 1000.0 / self._last_ms if self._last_ms else 0.0

    VirtualClock.__name__ = VirtualClock.__qualname__ = "Clock"
    return VirtualClock


def install(vt: VirtualTime, on_tick: Callable[[], None]) -> None:
    """Patch pygame.time and the time module so the game only ever sees virtual time."""
    pygame.time.Clock = make_clock_class(vt, on_tick)
    pygame.time.get_ticks = vt.get_ticks
    pygame.time.wait = vt.wait
    pygame.time.delay = vt.wait
    pygame.time.set_timer = vt.set_timer
    time.time, time.time_ns = vt.time, vt.time_ns
    time.monotonic, time.monotonic_ns = vt.monotonic, vt.monotonic_ns
    time.perf_counter, time.perf_counter_ns = vt.perf_counter, vt.perf_counter_ns
    time.sleep = vt.sleep
