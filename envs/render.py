"""RGB frames of a game state (host side, Pillow): people would rather watch than read numbers.

``render(env_name, state)`` takes one env's state (not a batch) and returns ``[H, W, 3]``
uint8, drawn by the game's own renderer (``envs/<game>/render.py``); the colours are shared.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from envs.registry import game, names

BLUE, PURPLE = (40, 110, 230), (150, 60, 200)
GRASS, LINE, BALL = (60, 140, 70), (235, 235, 235), (250, 250, 250)


def render(env_name: str, state) -> np.ndarray:
    """``[H, W, 3]`` uint8 picture of one (unbatched) state of ``env_name`` (its record's
    ``render``)."""
    draw = game(env_name).render
    if draw is None:
        raise ValueError(f"env {env_name!r} has no renderer; games with one: {renderable()}")
    return draw(state)


def renderable() -> list[str]:
    return [name for name in names() if game(name).render is not None]


def save_gif(frames: list[np.ndarray], path: str, fps: int = 10) -> None:
    """Write frames as an animated GIF (Pillow, no extra dependency)."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
