"""Tennis from the side: the scene of one (unbatched) state."""

from __future__ import annotations

import numpy as np

from envs.render import BLUE, LINE, PURPLE, Scene, Shape
from envs.tennis import env as tennis

NIGHT, COURT, BALL = (25, 35, 60), (70, 130, 80), (220, 240, 60)


def scene(state: tennis.TennisState, scale: float = 25.0) -> Scene:
    x_lo, x_hi, y_lo, y_hi = -tennis.WALL_X, tennis.WALL_X, tennis.FLOOR_Y - 1.0, 10.5
    size = (int((x_hi - x_lo) * scale), int((y_hi - y_lo) * scale))

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x - x_lo) * scale, (y_hi - y) * scale)

    net = tennis.NET_HALF_THICKNESS
    fixed = (
        Shape("rect", (*px(x_lo, tennis.FLOOR_Y), *px(x_hi, y_lo)), COURT),
        Shape("rect", (*px(-net - 0.02, tennis.NET_TOP), *px(net + 0.02, tennis.FLOOR_Y)), LINE),
    )
    pos, moving = np.asarray(state.racket_pos), []
    for i, colour in enumerate((BLUE, PURPLE)):
        half = tennis.RACKET_HALF_LENGTH * tennis.RACKET_AXIS[i]
        moving.append(
            Shape("line", (*px(*(pos[i] - half)), *px(*(pos[i] + half))), colour, width=6)
        )
    r = tennis.BALL_RADIUS * scale
    bx, by = px(*np.asarray(state.ball_pos))
    moving.append(Shape("ellipse", (bx - r, by - r, bx + r, by + r), BALL, (0, 0, 0)))
    return Scene(size, NIGHT, fixed, tuple(moving))
