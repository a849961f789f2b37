"""SoccerTwos from above (x right, z up): one RGB frame of one (unbatched) state.

``draw_pitch`` is the picture of any game on this pitch (StrikersVsGoalie draws its blocker
through ``decorate``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from envs.render import BALL, BLUE, GRASS, LINE, PURPLE
from envs.soccer_twos import env as soccer

ToPixel = Callable[[float, float], tuple[float, float]]


def draw_pitch(
    pitch: Any,
    teams: Sequence[int],
    scale: float = 20.0,
    decorate: Callable[[ImageDraw.ImageDraw, ToPixel], None] | None = None,
) -> np.ndarray:
    """The pitch, its walls and goals, ``teams``' agents (heading lines) and the ball;
    ``decorate(draw, px)`` adds a game's own fixtures after the halfway line."""
    half_w, half_h = soccer.GOAL_BACK_X + 0.5, soccer.SIDE_Z + 0.5
    size = (int(2 * half_w * scale), int(2 * half_h * scale))
    img = Image.new("RGB", size, GRASS)
    draw = ImageDraw.Draw(img)

    def px(x: float, z: float) -> tuple[float, float]:
        return ((x + half_w) * scale, (half_h - z) * scale)

    draw.line([px(0, -soccer.SIDE_Z), px(0, soccer.SIDE_Z)], fill=LINE, width=2)
    if decorate is not None:
        decorate(draw, px)
    walls = soccer.WALLS
    for i in range(len(soccer.WALL_GOAL_SIDE)):
        a = (float(walls.ax[i]), float(walls.az[i]))
        length = float(walls.length[i])
        b = (a[0] + length * float(walls.ux[i]), a[1] + length * float(walls.uz[i]))
        side = soccer.WALL_GOAL_SIDE[i]
        colour = LINE if side == 0 else (BLUE if side < 0 else PURPLE)
        draw.line([px(*a), px(*b)], fill=colour, width=4)
    x, z, yaw = (np.asarray(v) for v in (pitch.x, pitch.z, pitch.yaw))
    r = soccer.AGENT_RADIUS * scale
    for i, team in enumerate(teams):
        cx, cz = px(x[i], z[i])
        colour = BLUE if team == 0 else PURPLE
        draw.ellipse([cx - r, cz - r, cx + r, cz + r], fill=colour, outline=(0, 0, 0))
        fx, fz = np.sin(np.deg2rad(yaw[i])), np.cos(np.deg2rad(yaw[i]))
        draw.line([(cx, cz), px(x[i] + fx, z[i] + fz)], fill=(0, 0, 0), width=3)
    rb = soccer.BALL_RADIUS * scale
    ball = len(teams)  # the ball follows the agents among the bodies
    bx, bz = px(x[ball], z[ball])
    draw.ellipse([bx - rb, bz - rb, bx + rb, bz + rb], fill=BALL, outline=(0, 0, 0))
    return np.asarray(img)


def frame(state: soccer.SoccerState, scale: float = 20.0) -> np.ndarray:
    return draw_pitch(state.pitch, soccer.TEAMS, scale)
