"""Strikers vs Goalie from above (x right, z up): one RGB frame of one (unbatched) state,
SoccerTwos' picture with Blue's goal mouth shut by the blocker."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from envs.render import BALL, BLUE, GRASS, LINE, PURPLE
from envs.soccer_twos import env as soccer
from envs.strikers_vs_goalie import env as svg

BLOCKER = (120, 120, 120)


def frame(state: svg.StrikersVsGoalieState, scale: float = 20.0) -> np.ndarray:
    half_w, half_h = soccer.GOAL_BACK_X + 0.5, soccer.SIDE_Z + 0.5
    size = (int(2 * half_w * scale), int(2 * half_h * scale))
    img = Image.new("RGB", size, GRASS)
    draw = ImageDraw.Draw(img)

    def px(x: float, z: float) -> tuple[float, float]:
        return ((x + half_w) * scale, (half_h - z) * scale)

    draw.line([px(0, -soccer.SIDE_Z), px(0, soccer.SIDE_Z)], fill=LINE, width=2)
    back = svg.BLOCKER_FACE_X - 1.0  # the box is 1 m deep
    draw.rectangle(
        [px(back, svg.BLOCKER_HALF_WIDTH), px(svg.BLOCKER_FACE_X, -svg.BLOCKER_HALF_WIDTH)],
        fill=BLOCKER,
        outline=LINE,
    )
    walls = soccer.WALLS  # the pitch's own walls; the blocker is drawn as its box
    for i in range(len(soccer.WALL_GOAL_SIDE)):
        a = (float(walls.ax[i]), float(walls.az[i]))
        length = float(walls.length[i])
        b = (a[0] + length * float(walls.ux[i]), a[1] + length * float(walls.uz[i]))
        side = soccer.WALL_GOAL_SIDE[i]
        colour = LINE if side == 0 else (BLUE if side < 0 else PURPLE)
        draw.line([px(*a), px(*b)], fill=colour, width=4)
    x, z, yaw = (np.asarray(v) for v in (state.pitch.x, state.pitch.z, state.pitch.yaw))
    r = soccer.AGENT_RADIUS * scale
    for i in range(svg.NUM_AGENTS):
        cx, cz = px(x[i], z[i])
        colour = BLUE if svg.TEAMS[i] == 0 else PURPLE
        draw.ellipse([cx - r, cz - r, cx + r, cz + r], fill=colour, outline=(0, 0, 0))
        fx, fz = np.sin(np.deg2rad(yaw[i])), np.cos(np.deg2rad(yaw[i]))
        draw.line([(cx, cz), px(x[i] + fx, z[i] + fz)], fill=(0, 0, 0), width=3)
    rb = soccer.BALL_RADIUS * scale
    bx, bz = px(x[svg.BALL], z[svg.BALL])
    draw.ellipse([bx - rb, bz - rb, bx + rb, bz + rb], fill=BALL, outline=(0, 0, 0))
    return np.asarray(img)
