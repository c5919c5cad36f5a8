"""A driver that plays the game as a tester would: it watches the draw record and presses SPACE
so the bird follows the centre of the next pipe gap.

Each frame it is shown what the game drew in the frame before. It finds the bird (the small
shape whose x stays while its y moves), the pipe pairs (draw_reader.pipe_pairs) and the land, and
flaps when the bird is about to sink below its target: the next gap's centre plus half of the
rise one flap gives (learnt from the flaps it made, so strong and weak flaps, cumulative and
fixed ones all settle around the centre). It never flaps while the bird still rises, so presses
that add up do not send it through the roof.

It plays in rounds, like a tester: when the bird stops moving (game over) it presses SPACE to
play again, and when a round shows no pipe within NO_PIPES_FRAMES it stops flapping, lets the
bird fall and restarts (a game may make its first pipe only on restart). Once it has flown
through `PIPES_TO_PASS` pipes it keeps flying a little (time for the score to change), then
lets the bird fall so the game-over screen shows the best score after a scoring round, and says
it is finished; the harness then ends the run. After GIVE_UP_AFTER_LOSSES lost games without a
single pass it gives up (an impossible game).
Standard library and pygame only: this runs in the sandbox.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from typing import Any

import pygame

try:
    import draw_reader as dr  # inside the sandbox: the harness dir is on sys.path
except ImportError:  # pragma: no cover - imported from the project (tests)
    from validators.smoke.harness import draw_reader as dr

PIPES_TO_PASS = 3
KEEP_FLYING_FRAMES = 45      # after the last pass: the score has time to change
START_PRESS_FRAME = 5        # many games wait for a first SPACE
STILL_FRAMES = 25            # the bird has not moved this long: the game is over (or waiting)
RESTART_WAIT = 10            # frames between seeing the game over and pressing SPACE
GIVE_UP_AFTER_LOSSES = 4     # games lost without a single pass: the game is not playable
NO_PIPES_FRAMES = 240        # a round with no pipe this long (4 s at 60 fps) is given up
HISTORY = 40


class Autopilot:
    def __init__(self, steps: Sequence[dict[str, Any]] = ()) -> None:
        self.finished: str | None = None     # read by the harness: a reason to end the run
        self.passed = 0
        self.frame = 0
        self.key_down = False
        self.tracks: dict[tuple[str, int], deque[tuple[int, Box]]] = {}
        self.bird_key: tuple[str, int] | None = None
        self.bird: Box | None = None
        self.bird_x: float | None = None
        self.ys: deque[tuple[int, float]] = deque(maxlen=HISTORY)
        self.pairs: list[dr.Pair] = []
        self.window: Sequence[int] = (0, 0)
        self.floor = 0
        self.rises: deque[float] = deque(maxlen=6)
        self.flap_at: tuple[int, float] | None = None   # frame and y of the last flap
        self.flap_top: float | None = None
        self.still_since: int | None = None
        self.restart_at: int | None = None
        self.done_flying_at: int | None = None
        self.losses = 0
        self.round_start = START_PRESS_FRAME
        self.round_had_pipes = False
        self.falling = False   # not flapping: the round is being ended on purpose
        self.last_round = False

    # The harness calls this at every frame boundary ------------------------------------------
    def actions_for_frame(self, frame: int, last_frame_ops: Sequence[Any]) -> list[tuple[str, str | None]]:
        self.frame = frame
        if last_frame_ops:
            self._see(frame - 1, last_frame_ops)
        if self.key_down:  # a press lasts one frame: games that poll keys see it once
            self.key_down = False
            return [("up", "space")]
        if self._decide(frame):
            self.key_down = True
            if self.bird is not None and self.flap_at is None:  # measure the rise this flap gives
                self.flap_at = (frame, self.bird.cy)
            return [("down", "space")]
        return []

    # Seeing ---------------------------------------------------------------------------------
    def _see(self, frame: int, ops: Sequence[Any]) -> None:
        surface = pygame.display.get_surface()
        if surface is None:
            return
        window = surface.get_size()
        shapes = dr.boxes(ops)
        bird = self._find_bird(frame, shapes, window)
        pairs = dr.pipe_pairs(shapes, window, bird)
        if bird is not None:
            self.passed += len(dr.flew_through(self.pairs, pairs, bird))
            self.ys.append((frame, bird.cy))
            self._learn_rise(frame, bird.cy)
        self.bird, self.pairs, self.window, self.floor = bird, pairs, window, dr.land_top(shapes, window)

    def _find_bird(self, frame: int, shapes: list[dr.Box], window: Sequence[int]) -> dr.Box | None:
        small = [b for b in shapes if dr.is_small(b, window) and 0 <= b.cx < window[0] and 0 <= b.cy < window[1]]
        for b in small:  # keyed by place, not colour: a bird may change colour
            track = self.tracks.setdefault((b.kind, round(b.cx)), deque(maxlen=HISTORY))
            if not track or track[-1][0] != frame:
                track.append((frame, b))
        if self.bird_key is None:
            self.bird_key = self._pick_bird()
        if self.bird_key is None:
            return None
        kind, x = self.bird_key
        bird = dr.bird_near(small, kind, x)
        if bird is not None:
            self.bird_x = bird.cx
        return bird

    def _pick_bird(self) -> tuple[str, int] | None:
        best = None
        for key, track in self.tracks.items():
            recent = [b for f, b in track if f >= self.frame - HISTORY]
            if len(recent) < 8:
                continue
            xs, ys = [b.cx for b in recent], [b.cy for b in recent]
            if statistics.pstdev(xs) > 3 or max(ys) - min(ys) < 4 or len(set(ys)) < 5:
                continue
            area = recent[-1].w * recent[-1].h
            if best is None or area > best[0]:
                best = (area, key)
        return best[1] if best else None

    def _learn_rise(self, frame: int, y: float) -> None:
        """How far one flap lifts the bird: from the flap's y to the top of the climb."""
        if self.flap_at is None:
            return
        self.flap_top = y if self.flap_top is None else min(self.flap_top, y)
        if frame - self.flap_at[0] > 3 and self.velocity() >= 0:
            rise = self.flap_at[1] - self.flap_top
            if rise > 1:
                self.rises.append(rise)
            self.flap_at, self.flap_top = None, None

    def velocity(self) -> float:
        """px per frame, downward positive, from the last two sightings."""
        if len(self.ys) < 2:
            return 0.0
        (f0, y0), (f1, y1) = self.ys[-2], self.ys[-1]
        return (y1 - y0) / max(1, f1 - f0)

    # Deciding -------------------------------------------------------------------------------
    def _decide(self, frame: int) -> bool:
        if frame == START_PRESS_FRAME:
            return True
        if self._game_over(frame):
            return self._restart(frame)
        if self.bird is None:
            return False
        self.round_had_pipes = self.round_had_pipes or bool(self.pairs)
        if self.falling:
            return False
        if self.passed >= PIPES_TO_PASS:
            return self._wind_down(frame)
        if not self.round_had_pipes and frame - self.round_start >= NO_PIPES_FRAMES:
            self.falling = True   # an empty sky: lose on purpose and see the next round
            return False
        return self._flap_now()

    def _game_over(self, frame: int) -> bool:
        """The bird has not moved (or not been drawn) for STILL_FRAMES frames."""
        if self.bird_key is None:
            return False
        gone = self.bird is None
        if not gone and (len(self.ys) < 2 or abs(self.ys[-1][1] - self.ys[-2][1]) > 0.5):
            self.still_since = None
            return False
        if self.still_since is None:
            self.still_since = frame
        return frame - self.still_since >= STILL_FRAMES

    def _restart(self, frame: int) -> bool:
        if self.restart_at is None:
            self.restart_at = frame + RESTART_WAIT
        if frame < self.restart_at:
            return False
        if self.last_round:  # the game-over screen after the scoring round has been shown
            self.finished = "autopilot-done"
            return False
        self.restart_at, self.still_since, self.flap_at, self.flap_top = None, None, None, None
        self.round_start, self.round_had_pipes, self.falling = frame, False, False
        self.ys.clear()
        self.losses += 1
        if self.passed == 0 and self.losses >= GIVE_UP_AFTER_LOSSES:
            self.finished = "autopilot-gave-up"
        return True

    def _wind_down(self, frame: int) -> bool:
        """Keep flying a while (the score has time to change), then let the bird fall: the
        game-over screen that follows is where the best score must show this round's score."""
        if self.done_flying_at is None:
            self.done_flying_at = frame
        if frame - self.done_flying_at >= KEEP_FLYING_FRAMES:
            self.falling, self.last_round = True, True
            return False
        return self._flap_now()

    def _flap_now(self) -> bool:
        bird = self.bird
        assert bird is not None
        vy = self.velocity()
        next_y = bird.cy + vy
        target = self._target(bird)
        rise = statistics.median(self.rises) if self.rises else 20.0
        if bird.y + vy < 0.04 * self.window[1] and vy <= 0:
            return False                      # about to leave through the top
        if bird.bottom + 2 * max(vy, 0) >= self.floor - 2:
            return vy >= 0                    # about to hit the land
        return next_y > target + rise / 2 and vy >= -0.5

    def _target(self, bird: dr.Box) -> float:
        opening = dr.opening(dr.ahead(self.pairs, bird))
        if opening is None:
            return self.floor * 0.45
        return (opening[0] + opening[1]) / 2


Box = dr.Box
