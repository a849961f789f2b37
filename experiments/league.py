"""The AI-vs-AI challenge, locally: a pool of models, matchmaking, a dataset and a leaderboard.

python -m experiments.league --pool models/ --db league.sqlite --out site/
python -m experiments.league --hub-tag ML-Agents-SoccerTwos --db league.sqlite --out site/
python -m experiments.league --pool more_models/ --db league.sqlite --out site/  # newcomers
python -m experiments.league --pool models/ --db league.sqlite --matchmaking separate --budget 200

The pool is every run directory, ML-Agents ``.onnx`` file and model folder under each
``--pool`` folder, every Hub model tagged ``--hub-tag`` (downloaded once into ``--cache``),
and the game's scripted players (``--scripted``). Entries that do not fit the game, or fail
on its observations, are set aside with the reason (printed, and listed on the site).
Matchmaking: ``experiments.core.matchmaking``; restarts and ratings: ``experiments.core.pool``;
the site (``--out``, opens from ``file://``): ``analysis.league_site``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import envs
from analysis.league_site import write_site
from envs import scripted
from experiments.core import match_table
from experiments.core.hub_pool import hub_models
from experiments.core.matchmaking import MATCHMAKING
from experiments.core.onnx_import import UnsupportedModel
from experiments.core.players import model_game, onnx_player, scripted_player
from experiments.core.pool import (
    pool_entries,
    pool_players,
    run_league,
    unique_names,
    write_replays,
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", nargs="*", default=[], help="folders of runs and models")
    parser.add_argument("--hub-tag", default=None, help="e.g. ML-Agents-SoccerTwos")
    parser.add_argument("--hub-endpoint", default=None, help="another Hub (default: the HF Hub)")
    parser.add_argument("--cache", default="league_cache", help="where Hub models are kept")
    parser.add_argument("--env", default=None, help="the game (default: the pool's)")
    parser.add_argument("--scripted", nargs="*", default=None, help="default: all of the game's")
    parser.add_argument("--db", required=True, help="SQLite dataset (created if missing)")
    parser.add_argument("--out", default=None, help="write the leaderboard site here")
    parser.add_argument("--games", type=int, default=32, help="parallel games per match")
    parser.add_argument("--decisions", type=int, default=500, help="decisions per game slot")
    parser.add_argument(
        "--matchmaking",
        choices=MATCHMAKING,
        default="hf",
        help="hf: every pair once, close ratings first; least-played: even games per player; "
        "separate: every pair, then neighbours until their intervals separate (needs --budget)",
    )
    parser.add_argument("--budget", type=int, default=None, help="at most this many matches")
    parser.add_argument("--closest", type=int, default=3, help="hf: the n closest ratings")
    parser.add_argument("--rounds", type=int, default=None, help="default: until all pairs")
    parser.add_argument("--replays", type=int, default=3, help="replays among the top n")
    parser.add_argument("--replay-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    entries = [entry for folder in args.pool for entry in pool_entries(folder)]
    hub = hub_models(args.hub_tag, args.cache, args.hub_endpoint) if args.hub_tag else []
    env_name = args.env or _pool_game(entries + [folder for _, folder in hub])
    players, set_aside = pool_players(entries, env_name)
    for repo, folder in hub:
        try:
            players.append(onnx_player(folder, env_name, name=repo))
        except (UnsupportedModel, ValueError) as error:
            set_aside[repo] = str(error)
    for entry, reason in set_aside.items():
        print(f"set aside {entry}: {reason}")
    with closing(match_table.connect(args.db)) as conn:  # the page's list of set-aside models
        match_table.set_aside(conn, env_name, set_aside, [str(p.source) for p in players])
    names = args.scripted if args.scripted is not None else scripted.names(env_name)
    players = unique_names(players + [scripted_player(env_name, n) for n in names])
    env = envs.make(env_name)
    print(f"{env_name} league: {len(players)} players", flush=True)

    def progress(row: dict[str, Any]) -> None:
        print(
            f"{row['player0']} vs {row['player1']}: {row['wins0']}/{row['draws']}/{row['wins1']}"
            f" ({row['wall_s']:.1f} s)",
            flush=True,
        )

    table = run_league(
        env,
        players,
        args.db,
        args.games,
        args.decisions,
        args.seed,
        args.closest,
        args.rounds,
        on_match=progress,
        matchmaking=args.matchmaking,
        budget=args.budget,
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    if args.out:
        write_replays(
            env, players, table, args.out, args.replays, args.replay_steps, seed=args.seed
        )
        print(f"leaderboard: {Path(write_site(args.db, env_name, args.out)).resolve()}")


def _pool_game(entries: Sequence[Path]) -> str:
    """The one game the pool's models and runs play (``--env`` when it is mixed or empty);
    unreadable entries are left to ``pool_players`` to set aside."""
    games = set()
    for entry in entries:
        if (entry / "final").is_dir():
            games.add(json.loads((entry / "final" / "config.json").read_text())["env"]["name"])
        else:
            try:
                games.add(model_game(entry))
            except (UnsupportedModel, ValueError):
                continue
    if len(games) != 1:
        raise SystemExit(
            f"the pool plays {sorted(games) or 'no game'}; name one with --env "
            f"({', '.join(envs.games())})"
        )
    return games.pop()


if __name__ == "__main__":
    main()
