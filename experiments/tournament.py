"""AI-vs-AI tournament: trained policies and scripted opponents play; SQLite keeps every result.

python -m experiments.tournament --db matches.sqlite --runs RUN_DIR ... --scripted chaser random
python -m experiments.tournament --db matches.sqlite --runs RUN_DIR ... --schedule ladder --rounds 4
python -m experiments.tournament --db m.sqlite --runs RUN_DIR path/to/SoccerTwos.onnx MODEL_DIR

``--runs`` takes run directories, ML-Agents ``.onnx`` files and model folders.

Each match's row holds the win/draw/loss counts, the seed and the time; schedules, restarts
and ratings are described in ``experiments.core.matches``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import envs
from envs import scripted
from experiments.core.matches import SCHEDULES, run_tournament
from experiments.core.players import load_player, scripted_player


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument(
        "--runs", nargs="*", default=[], help="run directories, .onnx files, model folders"
    )
    parser.add_argument("--env", default=None, help="env name (needed with no --runs)")
    parser.add_argument("--scripted", nargs="*", default=None, help="default: all of the env's")
    parser.add_argument("--schedule", default="round_robin", choices=SCHEDULES)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--games", type=int, default=32, help="parallel envs per match")
    parser.add_argument("--decisions", type=int, default=500, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    loaded = [load_player(run, args.env) for run in args.runs]
    env_names = {env.spec.name for env, _ in loaded} | ({args.env} if args.env else set())
    if len(env_names) != 1:
        raise SystemExit(f"all players must share one env; got {sorted(env_names) or 'none'}")
    env_name = env_names.pop()
    env = loaded[0][0] if loaded else envs.make(env_name)
    names = args.scripted if args.scripted is not None else scripted.names(env_name)
    players = [p for _, p in loaded] + [scripted_player(env_name, n) for n in names]

    def progress(row: dict[str, Any]) -> None:
        print(
            f"round {row['round']} {row['player0']} vs {row['player1']}: "
            f"{row['wins0']}/{row['draws']}/{row['wins1']} ({row['wall_s']:.1f} s)",
            flush=True,
        )

    table = run_tournament(
        env,
        players,
        args.db,
        args.schedule,
        args.rounds,
        args.games,
        args.decisions,
        args.seed,
        on_match=progress,
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))


if __name__ == "__main__":
    main()
