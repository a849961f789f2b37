"""RGB frames of a game state (host side, Pillow): people would rather watch than read numbers.

``render(env_name, state)`` takes one env's state (not a batch) and returns ``[H, W, 3]``
uint8. Soccer is drawn from above (x right, z up), Tennis from the side.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from envs import soccer_twos as soccer
from envs import tennis

BLUE, PURPLE = (40, 110, 230), (150, 60, 200)
GRASS, LINE, BALL = (60, 140, 70), (235, 235, 235), (250, 250, 250)


def _soccer(state: soccer.SoccerState, scale: float = 20.0) -> np.ndarray:
    half_w, half_h = soccer.GOAL_BACK_X + 0.5, soccer.SIDE_Z + 0.5
    size = (int(2 * half_w * scale), int(2 * half_h * scale))
    img = Image.new("RGB", size, GRASS)
    draw = ImageDraw.Draw(img)

    def px(x: float, z: float) -> tuple[float, float]:
        return ((x + half_w) * scale, (half_h - z) * scale)

    draw.line([px(0, -soccer.SIDE_Z), px(0, soccer.SIDE_Z)], fill=LINE, width=2)
    walls = soccer.WALLS
    for i in range(len(soccer.WALL_GOAL_SIDE)):
        a = (float(walls.ax[i]), float(walls.az[i]))
        length = float(walls.length[i])
        b = (a[0] + length * float(walls.ux[i]), a[1] + length * float(walls.uz[i]))
        side = soccer.WALL_GOAL_SIDE[i]
        colour = LINE if side == 0 else (BLUE if side < 0 else PURPLE)
        draw.line([px(*a), px(*b)], fill=colour, width=4)
    x, z, yaw = (np.asarray(v) for v in (state.pitch.x, state.pitch.z, state.pitch.yaw))
    r = soccer.AGENT_RADIUS * scale
    for i in range(soccer.NUM_AGENTS):
        cx, cz = px(x[i], z[i])
        colour = BLUE if soccer.TEAMS[i] == 0 else PURPLE
        draw.ellipse([cx - r, cz - r, cx + r, cz + r], fill=colour, outline=(0, 0, 0))
        fx, fz = np.sin(np.deg2rad(yaw[i])), np.cos(np.deg2rad(yaw[i]))
        draw.line([(cx, cz), px(x[i] + fx, z[i] + fz)], fill=(0, 0, 0), width=3)
    rb = soccer.BALL_RADIUS * scale
    bx, bz = px(x[soccer.BALL], z[soccer.BALL])
    draw.ellipse([bx - rb, bz - rb, bx + rb, bz + rb], fill=BALL, outline=(0, 0, 0))
    return np.asarray(img)


def _tennis(state: tennis.TennisState, scale: float = 25.0) -> np.ndarray:
    x_lo, x_hi, y_lo, y_hi = -tennis.WALL_X, tennis.WALL_X, tennis.FLOOR_Y - 1.0, 10.5
    size = (int((x_hi - x_lo) * scale), int((y_hi - y_lo) * scale))
    img = Image.new("RGB", size, (25, 35, 60))
    draw = ImageDraw.Draw(img)

    def px(x: float, y: float) -> tuple[float, float]:
        return ((x - x_lo) * scale, (y_hi - y) * scale)

    draw.rectangle([px(x_lo, tennis.FLOOR_Y), px(x_hi, y_lo)], fill=(70, 130, 80))
    net = tennis.NET_HALF_THICKNESS
    draw.rectangle([px(-net - 0.02, tennis.NET_TOP), px(net + 0.02, tennis.FLOOR_Y)], fill=LINE)
    pos = np.asarray(state.racket_pos)
    for i, colour in enumerate((BLUE, PURPLE)):
        half = tennis.RACKET_HALF_LENGTH * tennis.RACKET_AXIS[i]
        draw.line([px(*(pos[i] - half)), px(*(pos[i] + half))], fill=colour, width=6)
    r = tennis.BALL_RADIUS * scale
    bx, by = px(*np.asarray(state.ball_pos))
    draw.ellipse([bx - r, by - r, bx + r, by + r], fill=(220, 240, 60), outline=(0, 0, 0))
    return np.asarray(img)


RENDERERS: dict[str, Callable[..., np.ndarray]] = {"soccer_twos": _soccer, "tennis": _tennis}


def render(env_name: str, state) -> np.ndarray:
    """``[H, W, 3]`` uint8 picture of one (unbatched) state of ``env_name``."""
    if env_name not in RENDERERS:
        raise ValueError(f"no renderer for env {env_name!r}; valid: {sorted(RENDERERS)}")
    return RENDERERS[env_name](state)


def save_gif(frames: list[np.ndarray], path: str, fps: int = 10) -> None:
    """Write frames as an animated GIF (Pillow, no extra dependency)."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
