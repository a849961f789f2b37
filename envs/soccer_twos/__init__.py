"""SoccerTwos (2 vs 2): the game (``env``), its scripted opponents and its picture."""

from __future__ import annotations

from envs.registry import BallGame, Game
from envs.soccer_twos import render, scripted
from envs.soccer_twos.env import SoccerTwos, ball_distances, touch_counting

GAME = Game(
    name="soccer_twos",
    env=SoccerTwos,
    scripted={"random": scripted.random, "chaser": scripted.chaser, "goalie": scripted.goalie},
    scene=render.scene,
    behaviour="SoccerTwos",
    ball=BallGame(counting=touch_counting, ball_distances=ball_distances),
)
