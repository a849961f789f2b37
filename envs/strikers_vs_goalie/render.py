"""Strikers vs Goalie from above (x right, z up): the scene of one (unbatched) state,
SoccerTwos' picture with Blue's goal mouth shut by the blocker."""

from __future__ import annotations

from collections.abc import Sequence

from envs.render import LINE, Scene, Shape
from envs.soccer_twos.render import ToPixel, pitch_scene
from envs.strikers_vs_goalie import env as svg

BLOCKER = (120, 120, 120)


def blocker(px: ToPixel) -> Sequence[Shape]:
    back = svg.BLOCKER_FACE_X - 1.0  # the box is 1 m deep
    box = (*px(back, svg.BLOCKER_HALF_WIDTH), *px(svg.BLOCKER_FACE_X, -svg.BLOCKER_HALF_WIDTH))
    return (Shape("rect", box, BLOCKER, LINE),)


def scene(state: svg.StrikersVsGoalieState, scale: float = 20.0) -> Scene:
    return pitch_scene(state.pitch, svg.TEAMS, scale, blocker)
