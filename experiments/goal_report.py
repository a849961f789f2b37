"""Why a soccer policy wins and loses: who scored each goal, by game length and kick-off.

python -m experiments.goal_report RUN_DIR --opponent chaser
python -m experiments.goal_report RUN_DIR --opponent random --games 256 --decisions 600
python -m experiments.goal_report path/to/SoccerTwos.onnx --opponent chaser

A win-rate alone cannot tell a weak defence from own goals or from kick-off luck. This plays
the run's policy against a scripted team on both sides, attributes every goal to the team of
the last agent that touched the ball (so a goal is the scorer's or an own goal), and splits
the win rate by game length and by which team had the player nearest the ball at kick-off.
Games whose record has a ball (``envs.registry.BallGame``): SoccerTwos and StrikersVsGoalie
(a policy of StrikersVsGoalie plays both roles: strikers as team 0, the goalie as team 1).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import jax

from envs import scripted
from experiments.core.evaluation import scripted_opponent
from experiments.core.goals import ball_game, describe, report
from experiments.core.players import load_player


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("player", help="a run directory, .onnx file or model folder")
    parser.add_argument(
        "--opponent", default=None, help="a scripted team (default: the first but random)"
    )
    parser.add_argument("--games", type=int, default=256, help="parallel games per side")
    parser.add_argument("--decisions", type=int, default=600, help="decisions per game slot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)
    env, player = load_player(args.player)
    ball_game(env)  # a game with no ball names the ones that have one
    valid = scripted.names(env.spec.name)
    opponent = args.opponent or next(n for n in valid if n != "random")
    if opponent not in valid:
        raise ValueError(f"unknown opponent {opponent!r}; valid: {', '.join(valid)}")
    summary = report(
        env,
        player.policy,
        player.params,
        scripted_opponent(env, opponent),
        args.games,
        args.decisions,
        jax.random.PRNGKey(args.seed),
    )
    print(describe(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
