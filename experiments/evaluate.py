"""Play a trained policy against scripted opponents and other trained policies.

python -m experiments.evaluate outputs/2026-11-23/10-00-00
python -m experiments.evaluate RUN_DIR --opponents chaser random --games 512
python -m experiments.evaluate RUN_DIR --against OTHER_RUN_DIR [OTHER ...]

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
from experiments.core.evaluation import describe, evaluate_learner
from experiments.core.players import load_run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by experiments.run")
    parser.add_argument("--opponents", nargs="*", default=None, help="scripted (default: all)")
    parser.add_argument("--against", nargs="*", default=[], help="other run directories")
    parser.add_argument("--games", type=int, default=256, help="parallel envs per side")
    parser.add_argument("--decisions", type=int, default=1000, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the summary JSON here")
    args = parser.parse_args(argv)

    env, learner, params = load_run(args.run_dir)
    opponents = args.opponents if args.opponents is not None else scripted.names(env.spec.name)
    others = {}
    for other_dir in args.against:
        other_env, other, other_params = load_run(other_dir)
        if other_env.spec != env.spec:
            raise ValueError(
                f"{other_dir} was trained on {other_env.spec.name}, not {env.spec.name}"
            )
        others[str(other_dir)] = (other, other_params)
    summary = evaluate_learner(
        env,
        learner,
        params,
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
