"""Play a policy against scripted opponents and other policies.

python -m experiments.evaluate outputs/2026-11-23/10-00-00
python -m experiments.evaluate RUN_DIR --opponents chaser random --games 512
python -m experiments.evaluate RUN_DIR --against OTHER_RUN_DIR path/to/SoccerTwos.onnx
python -m experiments.evaluate path/to/SoccerTwos.onnx --opponents random

The policy (and each ``--against``) is a run directory, an ML-Agents ``.onnx`` file or a model
folder (``experiments.core.players``); an imported model's game is the one it fits, or
``--env``.

Each pairing is played on both sides; results are win/draw/loss, the win rate among decided
games with its 95% Wilson interval and the score, plus the game's own extra evaluation
(Tennis: Udacity's solved score); see ``experiments.core.evaluation``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import jax

from envs import scripted
from experiments.core.evaluation import describe, evaluate_policy
from experiments.core.players import load_player


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("player", help="a run directory, an .onnx file or a model folder")
    parser.add_argument("--env", default=None, help="the game (default: the player's)")
    parser.add_argument("--opponents", nargs="*", default=None, help="scripted (default: all)")
    parser.add_argument(
        "--against", nargs="*", default=[], help="run directories, .onnx files, model folders"
    )
    parser.add_argument("--games", type=int, default=256, help="parallel envs per side")
    parser.add_argument("--decisions", type=int, default=1000, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)

    env, player = load_player(args.player, args.env)
    opponents = args.opponents if args.opponents is not None else scripted.names(env.spec.name)
    others = {}
    for spec in args.against:
        other_env, other = load_player(spec, env.spec.name)
        if other_env.spec != env.spec:
            raise ValueError(f"{spec} plays {other_env.spec}, not {env.spec}")
        others[str(spec)] = (other.policy, other.params)
    summary = evaluate_policy(
        env,
        player.policy,
        player.params,
        opponents,
        args.games,
        args.decisions,
        jax.random.PRNGKey(args.seed),
        others,
    )
    print(describe(summary))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
