"""League throughput: games per second of a match between imported ONNX models, beside the
same policies played natively.

A league match is one compiled program (``experiments.core.matches.Lineup``): ``games``
parallel SoccerTwos (or Tennis) games, ``decisions`` decisions each, both teams' policies
acting at every decision, finished games restarting. The players are two ONNX exports of
freshly initialised learners at ``--hidden`` width (``512 512`` is the size of ML-Agents'
shipped SoccerTwos model), imported through ``experiments.core.onnx_import``; the native row
plays the learners' own ``act`` with the same parameters, so the ratio is the cost of reading
the graph instead of the flax module. ``--models`` plays two given players instead.

    python -m experiments.bench.onnx_matches
    python -m experiments.bench.onnx_matches --games 256 --decisions 1000 --hidden 512 512
    python -m experiments.bench.onnx_matches --models a/SoccerTwos.onnx b/SoccerTwos.onnx
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import jax

from experiments.core.build import build
from experiments.core.config import compose
from experiments.core.matches import Lineup
from experiments.core.onnx_export import behaviour_name, build_model
from experiments.core.players import Player, load_player, onnx_player


def exported_pair(env_name: str, algo: str, hidden: list[int], folder: Path):
    """Two freshly initialised learners (seeds 0, 1) as native players and as imported ONNX."""
    cfg = compose(
        [f"algo={algo}", f"env={env_name}", f"algo.hidden=[{','.join(map(str, hidden))}]"]
    )
    env, trainer = build(cfg)
    native, imported = [], []
    for seed in (0, 1):
        params = trainer.policy_params(trainer.init(jax.random.PRNGKey(seed)))
        path = folder / f"seed{seed}" / f"{behaviour_name(env.spec)}.onnx"
        path.parent.mkdir(parents=True)
        path.write_bytes(
            build_model(
                trainer.learners[0].actor_arrays(params, 0, 0), env.spec
            ).SerializeToString()
        )
        imported.append(onnx_player(path, env_name, name=f"onnx/seed{seed}"))
        native.append(
            Player(
                f"native/seed{seed}", "trained", trainer.team_policy, params, arch=f"native/{algo}"
            )
        )
    return env, native, imported


def time_match(env, players: list[Player], games: int, decisions: int, repeats: int) -> dict:
    lineup = Lineup(env, players, games, decisions)
    t0 = time.perf_counter()
    lineup.play(players[0], players[1], jax.random.PRNGKey(0))  # compiles, then runs once
    first_s = time.perf_counter() - t0
    best, episodes = float("inf"), 0
    for i in range(repeats):
        t0 = time.perf_counter()
        counts = lineup.play(players[0], players[1], jax.random.PRNGKey(i + 1)).counts()
        wall = time.perf_counter() - t0
        if wall < best:
            best, episodes = wall, counts["episodes"]
    return {
        "games": games,
        "decisions": decisions,
        "compile_and_first_s": round(first_s, 2),
        "wall_s": round(best, 3),
        "finished_games": episodes,
        "games_per_s": round(episodes / best, 1),
        "decisions_per_s": round(games * decisions / best),
        "decisions_per_finished_game": round(games * decisions / max(episodes, 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="soccer_twos")
    parser.add_argument("--algo", default="poca", help="whose actor is exported")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--models", nargs=2, default=None, help="two players to time instead")
    parser.add_argument("--games", type=int, default=64)
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    if args.models:
        loaded = [load_player(m, args.env) for m in args.models]
        env, players = loaded[0][0], [p for _, p in loaded]
        rows.append(
            {
                "players": [p.name for p in players],
                **time_match(env, players, args.games, args.decisions, args.repeats),
            }
        )
    else:
        with tempfile.TemporaryDirectory() as folder:
            env, native, imported = exported_pair(args.env, args.algo, args.hidden, Path(folder))
            for kind, players in (("onnx", imported), ("native", native)):
                result = time_match(env, players, args.games, args.decisions, args.repeats)
                rows.append({"env": args.env, "players": kind, "hidden": args.hidden, **result})
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
