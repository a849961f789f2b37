"""Tennis from the side: one RGB frame of one (unbatched) state."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from envs.render import BLUE, LINE, PURPLE
from envs.tennis import env as tennis


def frame(state: tennis.TennisState, scale: float = 25.0) -> np.ndarray:
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
