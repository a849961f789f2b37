"""Why a SoccerTwos policy wins and loses: who scored each goal, by game length and kick-off.

python -m experiments.goal_report RUN_DIR --opponent chaser
python -m experiments.goal_report RUN_DIR --opponent random --games 256 --decisions 600
python -m experiments.goal_report path/to/SoccerTwos.onnx --opponent chaser

A win-rate alone cannot tell a weak defence from own goals or from kick-off luck. This plays
the run's policy against a scripted team on both sides, attributes every goal to the team of
the last agent that touched the ball (so a goal is the scorer's or an own goal), and splits
the win rate by game length and by which team had the player nearest the ball at kick-off.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import jax

from envs import scripted
from envs.soccer_twos import env as soccer
from experiments.core.goals import describe, report
from experiments.core.players import load_player


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("player", help="a SoccerTwos run directory, .onnx file or model folder")
    parser.add_argument("--opponent", default="chaser", help="scripted SoccerTwos team")
    parser.add_argument("--games", type=int, default=256, help="parallel games per side")
    parser.add_argument("--decisions", type=int, default=600, help="decisions per game slot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)
    env, player = load_player(args.player)
    if not isinstance(env, soccer.SoccerTwos):
        raise ValueError(f"{args.player} plays {env.spec.name}; this report is for SoccerTwos")
    summary = report(
        env,
        player.policy,
        player.params,
        scripted.team("soccer_twos", args.opponent),
        args.games,
        args.decisions,
        jax.random.PRNGKey(args.seed),
    )
    print(describe(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
