"""Strikers vs Goalie from above (x right, z up): one RGB frame of one (unbatched) state,
SoccerTwos' picture with Blue's goal mouth shut by the blocker."""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from envs.render import LINE
from envs.soccer_twos.render import ToPixel, draw_pitch
from envs.strikers_vs_goalie import env as svg

BLOCKER = (120, 120, 120)


def draw_blocker(draw: ImageDraw.ImageDraw, px: ToPixel) -> None:
    back = svg.BLOCKER_FACE_X - 1.0  # the box is 1 m deep
    draw.rectangle(
        [px(back, svg.BLOCKER_HALF_WIDTH), px(svg.BLOCKER_FACE_X, -svg.BLOCKER_HALF_WIDTH)],
        fill=BLOCKER,
        outline=LINE,
    )


def frame(state: svg.StrikersVsGoalieState, scale: float = 20.0) -> np.ndarray:
    return draw_pitch(state.pitch, svg.TEAMS, scale, draw_blocker)
