"""Many vmapped games between two scripted teams: win/draw/loss counts and Tennis scores.

python -m experiments.play_scripted --env soccer_twos --team0 chaser --team1 random
python -m experiments.play_scripted --env tennis --team0 tracker --team1 tracker --steps 1000
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import envs
from envs import match, scripted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="soccer_twos", choices=envs.games())
    parser.add_argument("--team0", default="chaser")
    parser.add_argument("--team1", default="random")
    parser.add_argument("--num-envs", type=int, default=128)
    parser.add_argument("--steps", type=int, default=600, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = envs.make(args.env)
    spec = env.spec
    roles = [  # an asymmetric game's player names one policy per role: each team plays its own
        spec.behaviour_specs[spec.behaviour_of(t)].name if spec.asymmetric else None
        for t in range(spec.num_teams)
    ]
    names = (args.team0, args.team1)
    policies = [scripted.team(args.env, n, r) for n, r in zip(names, roles, strict=True)]
    result = match.play(env, policies, jax.random.PRNGKey(args.seed), args.num_envs, args.steps)
    c = result.counts()
    decided = c["team0"] + c["team1"]
    share = c["team0"] / decided if decided else float("nan")
    print(f"{args.team0} vs {args.team1} on {args.env}: {c}; team0 wins {share:.1%} of decided")
    episode_score = envs.game(args.env).episode_score
    if episode_score is not None and c["episodes"]:  # a game with a score of its own (Tennis)
        scores = np.asarray(episode_score(result.episode_return[result.done]))
        lengths = args.num_envs * args.steps / c["episodes"]
        print(
            f"mean episode score (max over agents) {scores.mean():.3f}; "
            f"~{lengths:.0f} decisions/episode"
        )


if __name__ == "__main__":
    main()
