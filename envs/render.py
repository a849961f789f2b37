"""Pictures of a game state: people would rather watch than read numbers.

A game draws a state as a ``Scene``: its fixed shapes (pitch, walls, net) and its moving
ones (players, ball), in pixels. ``render`` rasterises a scene into an RGB frame (Pillow);
``scene_json`` writes a recorded game's scenes for the league page's canvas player, which
draws the same shapes, so a replay in the browser and a GIF are one picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from envs.registry import game, names

RGB = tuple[int, int, int]
BLUE, PURPLE = (40, 110, 230), (150, 60, 200)
GRASS, LINE, BALL = (60, 140, 70), (235, 235, 235), (250, 250, 250)


class Shape(NamedTuple):
    """A line through ``points`` (x0, y0, x1, y1, ...), or the ellipse or rectangle in the
    box ``points`` (x0, y0, x1, y1); pixels, y down."""

    kind: str
    points: tuple[float, ...]
    fill: RGB | None = None
    outline: RGB | None = None
    width: int = 1


class Scene(NamedTuple):
    size: tuple[int, int]  # width, height in pixels
    background: RGB
    fixed: tuple[Shape, ...]  # the same in every state of a game
    moving: tuple[Shape, ...]


def scene(env_name: str, state: Any) -> Scene:
    """The scene of one (unbatched) state of ``env_name`` (its record's ``scene``)."""
    draw = game(env_name).scene
    if draw is None:
        raise ValueError(f"env {env_name!r} has no renderer; games with one: {renderable()}")
    return draw(state)


def render(env_name: str, state: Any) -> np.ndarray:
    """``[H, W, 3]`` uint8 picture of one (unbatched) state of ``env_name``."""
    return rasterise(scene(env_name, state))


def rasterise(picture: Scene) -> np.ndarray:
    img = Image.new("RGB", picture.size, picture.background)
    draw = ImageDraw.Draw(img)
    for shape in (*picture.fixed, *picture.moving):
        if shape.kind == "line":
            draw.line(list(shape.points), fill=shape.fill, width=shape.width)
        elif shape.kind == "ellipse":
            draw.ellipse(list(shape.points), fill=shape.fill, outline=shape.outline)
        else:
            draw.rectangle(list(shape.points), fill=shape.fill, outline=shape.outline)
    return np.asarray(img)


def scene_json(scenes: Sequence[Scene]) -> dict[str, Any]:
    """A recorded game for the league page: size, background and fixed shapes once (the
    first scene's), then each frame's moving shapes; colours as ``#rrggbb``, points to 0.1 px.
    A shape is ``[kind, points, fill, outline, width]``."""
    first = scenes[0]
    return {
        "size": list(first.size),
        "background": _hex(first.background),
        "fixed": [_shape_json(s) for s in first.fixed],
        "frames": [[_shape_json(s) for s in picture.moving] for picture in scenes],
    }


def _shape_json(shape: Shape) -> list[Any]:
    points = [round(float(p), 1) for p in shape.points]
    return [shape.kind, points, _hex(shape.fill), _hex(shape.outline), shape.width]


def _hex(colour: RGB | None) -> str | None:
    return None if colour is None else "#{:02x}{:02x}{:02x}".format(*colour)


def renderable() -> list[str]:
    return [name for name in names() if game(name).scene is not None]


def save_gif(frames: list[np.ndarray], path: str, fps: int = 10) -> None:
    """Write frames as an animated GIF (Pillow, no extra dependency)."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
