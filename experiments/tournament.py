"""AI-vs-AI tournament: trained policies and scripted opponents play; SQLite keeps every result.

python -m experiments.tournament --db matches.sqlite --runs RUN_DIR ... --scripted chaser random
python -m experiments.tournament --db matches.sqlite --runs RUN_DIR ... --schedule ladder --rounds 4

A *match* is one line-up (``player0`` as team 0, ``player1`` as team 1) played in ``games``
vmapped envs for ``decisions`` decisions; its row holds the win/draw/loss counts, the seed
and the time. Every pair plays on both sides. Schedules:

- ``round_robin``: every pair, every round.
- ``ladder``: round 0 is a round robin; each later round refits the ratings on the rounds
  before it and pairs neighbours in the ranking (matchmaking by close ratings, which is
  where games carry the most information).

Each finished match is committed in its own transaction under a primary key made of round,
players and side, and a restart skips the keys already in the table. So a process killed at
any moment loses only the match in flight and never counts one twice, and the schedule (a
function of the earlier rounds' results) comes out the same after a restart. Ratings are
recomputed from the table (``analysis.ratings.rating_table``), never kept as state.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sqlite3
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import pandas as pd
from omegaconf import OmegaConf

from analysis.ratings import rating_table
from envs import match, scripted
from envs.base import MultiAgentEnv
from experiments.evaluate import load_run

SCHEMA = """
CREATE TABLE IF NOT EXISTS players (
    name TEXT NOT NULL, env TEXT NOT NULL, kind TEXT NOT NULL,
    algo TEXT, seed INTEGER, source TEXT,
    PRIMARY KEY (env, name)
);
CREATE TABLE IF NOT EXISTS matches (
    match_id TEXT PRIMARY KEY,
    env TEXT NOT NULL, round INTEGER NOT NULL,
    player0 TEXT NOT NULL, player1 TEXT NOT NULL,  -- player0 plays team 0
    wins0 INTEGER NOT NULL, draws INTEGER NOT NULL, wins1 INTEGER NOT NULL,
    games INTEGER NOT NULL, decisions INTEGER NOT NULL, seed INTEGER NOT NULL,
    wall_s REAL NOT NULL, finished_at TEXT NOT NULL
);
"""
SCHEDULES = ("round_robin", "ladder")
# Compiled match programs per (env, architectures, games, decisions), shared by every
# tournament in the process: compiling is most of the cost of a short match.
_PROGRAMS: dict[tuple, Callable] = {}


class Lineup:
    """One compiled match program for every pairing of a set of architectures.

    Each side's policy is a ``lax.switch`` over the architectures' policies; its parameters
    are ``(arch_index, params_per_arch)`` with the other slots holding a template. The index
    is the same in every env, so only the chosen branch runs, and an N-player tournament
    compiles once instead of once per pair of architectures.
    """

    def __init__(self, env: MultiAgentEnv, players: Sequence[Player], games: int, decisions: int):
        reps = {}
        for p in players:
            reps.setdefault(p.arch, p)
        self.archs = sorted(reps)
        self.templates = tuple(reps[a].params for a in self.archs)
        policies = [reps[a].policy for a in self.archs]
        obs = jax.eval_shape(env.reset, jax.random.PRNGKey(0))[0]
        team_size = len(env.spec.team_agents(0))
        members = jax.ShapeDtypeStruct((team_size, *obs.shape[1:]), obs.dtype)
        key_shape = jax.eval_shape(jax.random.PRNGKey, 0)
        dtype = jax.eval_shape(policies[0], self.templates[0], members, key_shape).dtype

        def switched(params: tuple[jax.Array, tuple], team_obs: jax.Array, key: jax.Array):
            index, per_arch = params
            branches = [
                lambda o, k, i=i: policies[i](per_arch[i], o, k).astype(dtype)
                for i in range(len(policies))
            ]
            return jax.lax.switch(index, branches, team_obs, key)

        key = (env, tuple(self.archs), games, decisions)
        if key not in _PROGRAMS:
            _PROGRAMS[key] = match.match_fn(env, [switched, switched], games, decisions)
        self.program = _PROGRAMS[key]

    def side(self, player: Player) -> tuple[jax.Array, tuple]:
        index = self.archs.index(player.arch)
        per_arch = tuple(player.params if i == index else t for i, t in enumerate(self.templates))
        return jnp.int32(index), per_arch

    def play(self, p0: Player, p1: Player, key: jax.Array) -> match.MatchResult:
        return self.program([self.side(p0), self.side(p1)], key)


@dataclass(frozen=True)
class Player:
    """A policy that can take a side: ``policy(params, team_obs, key) -> team_actions``."""

    name: str
    kind: str  # "trained" or "scripted"
    policy: match.Policy
    params: Any
    arch: str  # players with the same arch share one compiled match program
    algo: str | None = None
    seed: int | None = None
    source: str | None = None


def trained_player(run_dir: str | Path, name: str | None = None) -> tuple[MultiAgentEnv, Player]:
    """A finished ``experiments.run`` directory as a player named ``<algo>/seed<seed>``."""
    env, learner, params = load_run(run_dir)
    cfg = OmegaConf.create(json.loads((Path(run_dir) / "final" / "config.json").read_text()))
    algo, seed = str(cfg.algo.name), int(cfg.seed)
    arch = json.dumps(
        {"algo": OmegaConf.to_container(cfg.algo), "env": OmegaConf.to_container(cfg.env)},
        sort_keys=True,
    )
    player = Player(
        name=name or f"{algo}/seed{seed}",
        kind="trained",
        policy=learner.act,
        params=params,
        arch=arch,
        algo=algo,
        seed=seed,
        source=str(run_dir),
    )
    return env, player


def scripted_player(env_name: str, name: str) -> Player:
    return Player(
        name=f"scripted/{name}",
        kind="scripted",
        policy=scripted.team(env_name, name),
        params=None,
        arch=f"scripted/{name}",
        algo=f"scripted-{name}",
    )


def connect(db: str | Path) -> sqlite3.Connection:
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    return conn


def read_matches(db: str | Path, env_name: str | None = None) -> pd.DataFrame:
    """The match table (optionally one env's), in the order the matches finished."""
    with sqlite3.connect(db) as conn:
        query = "SELECT * FROM matches" + (" WHERE env = ?" if env_name else "") + " ORDER BY rowid"
        return pd.read_sql_query(query, conn, params=(env_name,) if env_name else ())


def read_players(db: str | Path) -> pd.DataFrame:
    with sqlite3.connect(db) as conn:
        return pd.read_sql_query("SELECT * FROM players", conn)


def match_id(env_name: str, round_: int, player0: str, player1: str) -> str:
    return f"{env_name}|{round_}|{player0}|{player1}"


def pairings(
    schedule: str, round_: int, names: Sequence[str], earlier: pd.DataFrame
) -> list[tuple[str, str]]:
    """Ordered line-ups ``(team0, team1)`` of one round; every pair appears on both sides."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if schedule == "round_robin" or round_ == 0:
        pairs = list(itertools.combinations(names, 2))
    else:
        ranked = rating_table(earlier, names).sort_values(["bt", "name"])["name"].tolist()
        start = round_ % 2  # alternate the neighbour pairing so every gap gets played
        pairs = [(ranked[i], ranked[i + 1]) for i in range(start, len(ranked) - 1, 2)]
    return [line_up for a, b in pairs for line_up in ((a, b), (b, a))]


def run_tournament(
    env: MultiAgentEnv,
    players: Sequence[Player],
    db: str | Path,
    schedule: str = "round_robin",
    rounds: int = 1,
    games: int = 32,
    decisions: int = 500,
    seed: int = 0,
    on_match: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Play every scheduled match not yet in ``db``; returns the env's rating table.

    ``on_match`` is called after each committed match (progress output, tests).
    """
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise ValueError(f"player names must be unique, got {names}")
    if len(players) < 2:
        raise ValueError("a tournament needs at least two players")
    by_name = {p.name: p for p in players}
    env_name = env.spec.name
    lineup = Lineup(env, players, games, decisions)
    conn = connect(db)
    try:
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO players VALUES (?, ?, ?, ?, ?, ?)",
                [(p.name, env_name, p.kind, p.algo, p.seed, p.source) for p in players],
            )
        for round_ in range(rounds):
            table = read_matches(db, env_name)
            done = set(table["match_id"])
            earlier = table[(table["round"] < round_) & table["player0"].isin(names)]
            earlier = earlier[earlier["player1"].isin(names)]
            for name0, name1 in pairings(schedule, round_, names, earlier):
                mid = match_id(env_name, round_, name0, name1)
                if mid in done:
                    continue
                p0, p1 = by_name[name0], by_name[name1]
                match_seed = zlib.crc32(f"{seed}|{mid}".encode())
                t = time.perf_counter()
                counts = lineup.play(p0, p1, jax.random.PRNGKey(match_seed)).counts()
                row = {
                    "match_id": mid,
                    "env": env_name,
                    "round": round_,
                    "player0": name0,
                    "player1": name1,
                    "wins0": counts["team0"],
                    "draws": counts["draw"],
                    "wins1": counts["team1"],
                    "games": counts["episodes"],
                    "decisions": decisions,
                    "seed": match_seed,
                    "wall_s": time.perf_counter() - t,
                    "finished_at": datetime.datetime.now(datetime.UTC).isoformat(),
                }
                with conn:  # one transaction per match: all of it or none of it
                    conn.execute(
                        f"INSERT INTO matches ({', '.join(row)}) "
                        f"VALUES ({', '.join('?' * len(row))})",
                        tuple(row.values()),
                    )
                if on_match is not None:
                    on_match(row)
    finally:
        conn.close()
    return rating_table(read_matches(db, env_name), names)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--runs", nargs="*", default=[], help="run directories of one env")
    parser.add_argument("--env", default=None, help="env name (needed with no --runs)")
    parser.add_argument("--scripted", nargs="*", default=None, help="default: all of the env's")
    parser.add_argument("--schedule", default="round_robin", choices=SCHEDULES)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--games", type=int, default=32, help="parallel envs per match")
    parser.add_argument("--decisions", type=int, default=500, help="decisions per env")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    loaded = [trained_player(run) for run in args.runs]
    env_names = {env.spec.name for env, _ in loaded} | ({args.env} if args.env else set())
    if len(env_names) != 1:
        raise SystemExit(f"all players must share one env; got {sorted(env_names) or 'none'}")
    env_name = env_names.pop()
    env = loaded[0][0] if loaded else None
    if env is None:
        import envs

        env = envs.make(env_name)
    names = args.scripted if args.scripted is not None else sorted(scripted.POLICIES[env_name])
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
