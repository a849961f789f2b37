"""The one match engine: tournaments and the league play and record matches through ``Arena``.

A *match* is one line-up (``player0`` as team 0, ``player1`` as team 1) played in ``games``
vmapped envs for ``decisions`` decisions, with a seed that is a hash of its id, so its result
depends only on its players and id. ``Arena`` compiles one program for every line-up of a set
of players (``Lineup``) and records the players, the role each team plays in an asymmetric
game (per-role ratings read it back, ``analysis.ratings.role_rating_table``) and one committed
row per match. What differs is only which matches are played, in which order: tournaments
here (every pair plays on both sides), the league's matchmaking in
``experiments.core.pool``. Tournament schedules:

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

import datetime
import itertools
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import pandas as pd

from analysis.formats import read_matches
from analysis.ratings import rating_table
from envs import match
from envs.base import MultiAgentEnv
from envs.policy import for_team
from experiments.core import match_table
from experiments.core.players import Player

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
        first, first_params = for_team(policies[0], self.templates[0], 0)
        dtype = jax.eval_shape(first, first_params, members, key_shape).dtype

        def switched_as(team: int) -> Callable:
            """Team ``team``'s side: a player's policy for that team (its role's, in an
            asymmetric game)."""

            def switched(params: tuple[jax.Array, tuple], team_obs: jax.Array, key: jax.Array):
                index, per_arch = params

                def branch(i: int) -> Callable:
                    policy, own = for_team(policies[i], per_arch[i], team)
                    return lambda o, k: policy(own, o, k).astype(dtype)

                return jax.lax.switch(
                    index, [branch(i) for i in range(len(policies))], team_obs, key
                )

            return switched

        key = (env, tuple(self.archs), games, decisions)
        if key not in _PROGRAMS:
            sides = [switched_as(t) for t in range(env.spec.num_teams)]
            _PROGRAMS[key] = match.match_fn(env, sides, games, decisions)
        self.program = _PROGRAMS[key]

    def side(self, player: Player) -> tuple[jax.Array, tuple]:
        index = self.archs.index(player.arch)
        per_arch = tuple(player.params if i == index else t for i, t in enumerate(self.templates))
        return jnp.int32(index), per_arch

    def play(self, p0: Player, p1: Player, key: jax.Array) -> match.MatchResult:
        return self.program([self.side(p0), self.side(p1)], key)


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
        ranked = rating_table(earlier, names, resamples=0, game_ratings=False)
        ranked = ranked.sort_values(["bt", "name"])["name"].tolist()
        start = round_ % 2  # alternate the neighbour pairing so every gap gets played
        pairs = [(ranked[i], ranked[i + 1]) for i in range(start, len(ranked) - 1, 2)]
    return [line_up for a, b in pairs for line_up in ((a, b), (b, a))]


class Arena:
    """Players, their compiled match program and the table their matches go to.

    ``what`` names the caller in errors ("tournament", "league"). Use as a context manager
    (the table's connection is closed at the end).
    """

    def __init__(
        self,
        env: MultiAgentEnv,
        players: Sequence[Player],
        db: str | Path,
        games: int,
        decisions: int,
        seed: int,
        what: str = "tournament",
    ) -> None:
        self.names = [p.name for p in players]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"player names must be unique, got {self.names}")
        if len(players) < 2:
            raise ValueError(f"a {what} needs at least two players")
        self.env, self.db, self.decisions, self.seed = env, db, decisions, seed
        self.by_name = {p.name: p for p in players}
        self.lineup = Lineup(env, players, games, decisions)
        self.conn = match_table.connect(db)
        spec = env.spec
        match_table.add_players(self.conn, spec.name, players)
        if spec.asymmetric:  # per-behaviour ratings read which role each side played
            teams = range(spec.num_teams)
            roles = [spec.behaviour_specs[spec.behaviour_of(t)].name for t in teams]
            match_table.add_roles(self.conn, spec.name, roles)

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def played(self) -> pd.DataFrame:
        """Every match of this env in the table (also other players' and earlier calls')."""
        return read_matches(self.db, self.env.spec.name)

    def play(self, mid: str, round_: int, name0: str, name1: str) -> dict[str, Any]:
        """Play match ``mid`` (``name0`` as team 0) and commit its row; returns the row."""
        match_seed = zlib.crc32(f"{self.seed}|{mid}".encode())
        t = time.perf_counter()
        result = self.lineup.play(
            self.by_name[name0], self.by_name[name1], jax.random.PRNGKey(match_seed)
        )
        counts = result.counts()
        row = {
            "match_id": mid,
            "env": self.env.spec.name,
            "round": round_,
            "player0": name0,
            "player1": name1,
            "wins0": counts["team0"],
            "draws": counts["draw"],
            "wins1": counts["team1"],
            "games": counts["episodes"],
            "decisions": self.decisions,
            "seed": match_seed,
            "wall_s": time.perf_counter() - t,
            "finished_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        match_table.add_match(self.conn, row)
        return row

    def ratings(self) -> pd.DataFrame:
        """The rating table of these players, from every match of theirs in the table."""
        return rating_table(self.played(), self.names)


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
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    with Arena(env, players, db, games, decisions, seed) as arena:
        names = arena.names
        for round_ in range(rounds):
            table = arena.played()
            done = set(table["match_id"])
            earlier = table[(table["round"] < round_) & table["player0"].isin(names)]
            earlier = earlier[earlier["player1"].isin(names)]
            for name0, name1 in pairings(schedule, round_, names, earlier):
                mid = match_id(env.spec.name, round_, name0, name1)
                if mid in done:
                    continue
                row = arena.play(mid, round_, name0, name1)
                if on_match is not None:
                    on_match(row)
        return arena.ratings()


def run_versus(
    env: MultiAgentEnv,
    players: Sequence[Player],
    fixed: Sequence[Player],
    db: str | Path,
    games: int = 32,
    decisions: int = 500,
    seed: int = 0,
) -> None:
    """Every one of ``players`` against every one of ``fixed`` on both sides, each match
    once: a study's checkpoint curves (policy snapshots against scripted and reference
    players), on one compiled program however many snapshots there are."""
    with Arena(env, [*players, *fixed], db, games, decisions, seed, what="curve") as arena:
        done = set(arena.played()["match_id"])
        for player, other in itertools.product(players, fixed):
            for name0, name1 in ((player.name, other.name), (other.name, player.name)):
                mid = match_id(env.spec.name, 0, name0, name1)
                if mid not in done:
                    arena.play(mid, 0, name0, name1)
