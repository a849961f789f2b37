"""SoccerTwos from above (x right, z up): the scene of one (unbatched) state.

``pitch_scene`` is the picture of any game on this pitch (StrikersVsGoalie adds its blocker
through ``fixtures``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from envs.render import BALL, BLUE, GRASS, LINE, PURPLE, Scene, Shape
from envs.soccer_twos import env as soccer

ToPixel = Callable[[float, float], tuple[float, float]]
BLACK = (0, 0, 0)


def pitch_scene(
    pitch: Any,
    teams: Sequence[int],
    scale: float = 20.0,
    fixtures: Callable[[ToPixel], Sequence[Shape]] = lambda px: (),
) -> Scene:
    """The pitch, its walls and goals, a game's own ``fixtures(px)`` (drawn after the halfway
    line), ``teams``' agents (heading lines) and the ball."""
    half_w, half_h = soccer.GOAL_BACK_X + 0.5, soccer.SIDE_Z + 0.5
    size = (int(2 * half_w * scale), int(2 * half_h * scale))

    def px(x: float, z: float) -> tuple[float, float]:
        return ((x + half_w) * scale, (half_h - z) * scale)

    fixed = [Shape("line", (*px(0, -soccer.SIDE_Z), *px(0, soccer.SIDE_Z)), LINE, width=2)]
    fixed += fixtures(px)
    walls = soccer.WALLS
    for i in range(len(soccer.WALL_GOAL_SIDE)):
        a = (float(walls.ax[i]), float(walls.az[i]))
        length = float(walls.length[i])
        b = (a[0] + length * float(walls.ux[i]), a[1] + length * float(walls.uz[i]))
        side = soccer.WALL_GOAL_SIDE[i]
        colour = LINE if side == 0 else (BLUE if side < 0 else PURPLE)
        fixed.append(Shape("line", (*px(*a), *px(*b)), colour, width=4))
    x, z, yaw = (np.asarray(v) for v in (pitch.x, pitch.z, pitch.yaw))
    r = soccer.AGENT_RADIUS * scale
    moving = []
    for i, team in enumerate(teams):
        cx, cz = px(x[i], z[i])
        colour = BLUE if team == 0 else PURPLE
        moving.append(Shape("ellipse", (cx - r, cz - r, cx + r, cz + r), colour, BLACK))
        fx, fz = np.sin(np.deg2rad(yaw[i])), np.cos(np.deg2rad(yaw[i]))
        moving.append(Shape("line", (cx, cz, *px(x[i] + fx, z[i] + fz)), BLACK, width=3))
    rb = soccer.BALL_RADIUS * scale
    ball = len(teams)  # the ball follows the agents among the bodies
    bx, bz = px(x[ball], z[ball])
    moving.append(Shape("ellipse", (bx - rb, bz - rb, bx + rb, bz + rb), BALL, BLACK))
    return Scene(size, GRASS, tuple(fixed), tuple(moving))


def scene(state: soccer.SoccerState, scale: float = 20.0) -> Scene:
    return pitch_scene(state.pitch, soccer.TEAMS, scale)
