"""SoccerTwos (2 vs 2): the game (``env``), its scripted opponents and its picture."""

from __future__ import annotations

from envs.registry import Game
from envs.soccer_twos import render, scripted
from envs.soccer_twos.env import SoccerTwos

GAME = Game(
    name="soccer_twos",
    env=SoccerTwos,
    scripted={"random": scripted.random, "chaser": scripted.chaser, "goalie": scripted.goalie},
    render=render.frame,
    behaviour="SoccerTwos",
)
