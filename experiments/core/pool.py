"""The AI-vs-AI league: a pool of players, matchmaking by close ratings, a dataset of matches.

Hugging Face's AI-vs-AI challenge (Cochet & Simonini, "Introducing AI vs. AI", HF blog 2023)
rates every ``ML-Agents-SoccerTwos`` model on the Hub by matches it plays in headless Unity:
new models start at 1200; a queue of all models is made; the first is popped and matched with
a random one of the ``n`` models closest to it in rating; the pair plays, both ratings move by
the ELO rule; popping goes on until one or no model is left; then it starts over.

This is that loop, locally and at JAX speed, with one change that makes the dataset a fixed
object instead of a stream: a pair of players plays in *legs*, one match with each as team 0,
and matchmaking (``experiments.core.matchmaking``: HF's rule, least-played pairs, or legs
until the ratings separate) chooses which legs are played and in what order. Without a budget
a league run to the end holds every pair exactly once, whatever order it was played in; a
match's result depends only on its two players and its seed (a hash of its id, which names
the leg), so a killed and restarted league, or a pool that grew, ends with the same table.
Adding models plays only the pairs the newcomers are in. ``rounds`` caps how many
matchmaking rounds a call plays, ``budget`` how many matches.

Ratings are recomputed from the table (``analysis.ratings.rating_table``: ELO as the HF
leaderboard computes it, start 1200, one update per game result 1/0.5/0 with K = 16, and the
Bradley–Terry fit with bootstrap intervals). Matches are played and recorded by the one match
engine, ``experiments.core.matches.Arena``, as a tournament's are.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

import envs
from analysis.formats import LEAGUE_REPLAYS
from analysis.ratings import rating_table
from envs import match, render
from envs.base import MultiAgentEnv, MultiDiscrete
from envs.policy import for_team
from experiments.core.matches import Arena
from experiments.core.matchmaking import (
    MATCHMAKING,
    Pair,
    hf_round,
    least_played_round,
    separating_round,
)
from experiments.core.players import Player, is_model, onnx_player, trained_player

ROUND = -1  # the ``round`` column of league rows: a league counts legs of pairs, not rounds


def league_match_id(env_name: str, player0: str, player1: str, leg: int = 0) -> str:
    """A league match's id; a pair's first leg keeps the id leagues have always written."""
    base = f"league|{env_name}|{player0}|{player1}"
    return base if leg == 0 else f"{base}|{leg}"


def pool_entries(folder: str | Path) -> list[Path]:
    """Run directories, model folders and ``.onnx`` files in ``folder`` (searched down to the
    first entry on each path, so a run's own ``export/`` file is not a second entry). A model
    folder has a model card or configuration beside its ``.onnx``; loose files are entries of
    their own."""
    folder, found = Path(folder), []
    if not folder.is_dir():
        raise FileNotFoundError(f"pool folder {folder} does not exist")

    def walk(path: Path) -> None:
        if (path / "final").is_dir() or (is_model(path) and _has_card(path)):
            found.append(path)
            return
        for child in sorted(path.iterdir()):
            if child.is_dir():
                walk(child)
            elif child.suffix == ".onnx":
                found.append(child)

    walk(folder)
    return found


def _has_card(folder: Path) -> bool:
    return (folder / "README.md").is_file() or (folder / "configuration.yaml").is_file()


def pool_players(entries: Sequence[Path], env_name: str) -> tuple[list[Player], dict[str, str]]:
    """A player per entry that plays ``env_name``, and ``{entry: reason}`` for the others (not
    this game's, unreadable, or failing ``probe``): a league sets them aside and goes on."""
    players, set_aside, env = [], {}, envs.make(env_name)
    for entry in entries:
        try:
            if (entry / "final").is_dir():
                run_env, player = trained_player(entry, name=run_name(entry))
                if run_env.spec.name != env_name:
                    raise ValueError(f"trained on {run_env.spec.name}, not {env_name}")
            else:
                player = onnx_player(entry, env_name)
            probe(env, player)
        except (ValueError, FileNotFoundError) as error:
            set_aside[str(entry)] = str(error)
            continue
        players.append(player)
    return unique_names(players), set_aside


def probe(env: MultiAgentEnv, player: Player) -> None:
    """A ValueError saying why ``player`` cannot take a side, before it can stop a league:
    its policy fails on the game's first observations, or answers with actions that are not
    finite or not in the action space (a model with NaN weights, a broken graph)."""
    obs = env.reset(jax.random.PRNGKey(0))[0]
    sides = [for_team(player.policy, player.params, t) for t in range(env.spec.num_teams)]
    act = match.team_actions(env, [policy for policy, _ in sides])
    try:
        actions = np.asarray(act([params for _, params in sides], obs, jax.random.PRNGKey(1)))
    except Exception as error:  # anything a foreign model does wrong sets it aside
        raise ValueError(
            f"fails on the game's observations ({type(error).__name__}: {error})"
        ) from error
    if not np.all(np.isfinite(actions)):
        raise ValueError("answers with NaN or infinite actions")
    space = env.spec.action_space
    if isinstance(space, MultiDiscrete) and not bool(space.contains(actions)):
        raise ValueError(f"answers with actions outside its branches {space.branches}")


def run_name(run_dir: Path) -> str:
    """A league's name for a run: ``<algo>/seed<k>/<folder>`` (runs of one seed differ)."""
    config = json.loads((run_dir / "final" / "config.json").read_text())
    return f"{config['algo']['name']}/seed{config['seed']}/{run_dir.name}"


def league_name(entry: Path, player: Player) -> str:
    """The name ``entry`` has in a league: a run's ``run_name``, else the player's own."""
    return run_name(entry) if (entry / "final").is_dir() else player.name


def unique_names(players: Sequence[Player]) -> list[Player]:
    """Players with distinct names: a repeated name gets ``#2``, ``#3`` ... in pool order."""
    seen: dict[str, int] = {}
    out = []
    for p in players:
        seen[p.name] = seen.get(p.name, 0) + 1
        name = p.name if seen[p.name] == 1 else f"{p.name}#{seen[p.name]}"
        out.append(p if name == p.name else Player(**{**p.__dict__, "name": name}))
    return out


def legs_played(table: pd.DataFrame, env_name: str, names: Sequence[str]) -> dict[Pair, int]:
    """Complete legs (both sides played) of every pair of ``names`` in the match table."""
    done = set(table["match_id"])
    legs = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            k = 0
            while {league_match_id(env_name, a, b, k), league_match_id(env_name, b, a, k)} <= done:
                k += 1
            legs[frozenset((a, b))] = k
    return legs


def run_league(
    env: MultiAgentEnv,
    players: Sequence[Player],
    db: str | Path,
    games: int = 32,
    decisions: int = 500,
    seed: int = 0,
    closest: int = 3,
    rounds: int | None = None,
    on_match: Callable[[dict[str, Any]], None] | None = None,
    matchmaking: str = "hf",
    budget: int | None = None,
) -> pd.DataFrame:
    """Play rounds of ``matchmaking`` (``experiments.core.matchmaking``) until it has no pair
    left, ``rounds`` rounds were played or ``budget`` matches were played in this call;
    returns the rating table of the pool. Without a budget every pair is played once (one
    leg); ``separate`` needs a budget, as copies of a player never separate."""
    if matchmaking not in MATCHMAKING:
        raise ValueError(f"unknown matchmaking {matchmaking!r}; choose one of {MATCHMAKING}")
    if matchmaking == "separate" and budget is None:
        raise ValueError("matchmaking 'separate' needs a budget (matches) to end")
    env_name, played, round_ = env.spec.name, 0, 0
    with Arena(env, players, db, games, decisions, seed, what="league") as arena:
        names = arena.names
        while rounds is None or round_ < rounds:
            table = arena.played()
            known = table[table["player0"].isin(names) & table["player1"].isin(names)]
            legs, done = legs_played(table, env_name, names), set(table["match_id"])
            rng = np.random.default_rng(zlib.crc32(f"{seed}|{len(table)}".encode()))
            pairs = _next_pairs(matchmaking, names, known, legs, closest, budget, rng)
            if not pairs:
                break
            for a, b in pairs:
                k = legs[frozenset((a, b))]
                for name0, name1 in ((a, b), (b, a)):
                    mid = league_match_id(env_name, name0, name1, k)
                    if mid in done:
                        continue
                    if budget is not None and played >= budget:
                        return arena.ratings()
                    row = arena.play(mid, ROUND, name0, name1)
                    played += 1
                    if on_match is not None:
                        on_match(row)
            round_ += 1
        return arena.ratings()


def _next_pairs(
    matchmaking: str,
    names: Sequence[str],
    known: pd.DataFrame,
    legs: dict[Pair, int],
    closest: int,
    budget: int | None,
    rng: np.random.Generator,
) -> list[tuple[str, str]]:
    unplayed = {pair for pair, k in legs.items() if k == 0}
    if matchmaking == "least-played":
        if not unplayed and budget is None:
            return []
        counts = rating_table(known, names, resamples=0, game_ratings=False)
        games = dict(counts[["name", "games"]].itertuples(index=False))
        return least_played_round(legs, games, rng)
    if unplayed:  # ``hf``, and ``separate`` until every pair has played
        order = rating_table(known, names, resamples=0, game_ratings=False)
        ratings = dict(order[["name", "elo"]].itertuples(index=False))
        return hf_round(names, ratings, unplayed, closest, rng)
    if matchmaking == "separate":
        seed = int(rng.integers(2**31))
        return separating_round(rating_table(known, names, seed=seed, game_ratings=False))
    return []


def write_replays(
    env: MultiAgentEnv,
    players: Sequence[Player],
    ratings: pd.DataFrame,
    out_dir: str | Path,
    top: int = 3,
    steps: int = 300,
    fps: int = 20,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One recorded game for each pair among the ``top`` rated players (the higher rated as
    team 0): its scenes for the page's canvas player (``.json``), a GIF as the fallback, and
    the index describing them (``analysis.formats.LEAGUE_REPLAYS``); a replay already on
    disk is kept."""
    by_name = {p.name: p for p in players}
    best = [n for n in ratings["name"] if n in by_name][:top]
    folder = Path(out_dir) / "replays"
    folder.mkdir(parents=True, exist_ok=True)
    kept = {
        r["scene"]: r
        for r in _read_index(out_dir)
        if all((Path(out_dir) / r.get(k, "")).is_file() for k in ("scene", "file"))
    }
    index = []
    for i, a in enumerate(best):
        for b in best[i + 1 :]:
            stem = f"replays/{_slug(a)}__vs__{_slug(b)}"
            if f"{stem}.json" not in kept:
                kept[f"{stem}.json"] = _replay(
                    env, by_name[a], by_name[b], Path(out_dir), stem, steps, fps, seed
                )
            index.append(kept[f"{stem}.json"])
    _write_atomic(Path(out_dir) / LEAGUE_REPLAYS, json.dumps(index, indent=1))
    return index


def _replay(
    env: MultiAgentEnv,
    p0: Player,
    p1: Player,
    out_dir: Path,
    stem: str,
    steps: int,
    fps: int,
    seed: int,
) -> dict[str, Any]:
    key = jax.random.PRNGKey(zlib.crc32(f"{seed}|replay|{p0.name}|{p1.name}".encode()))
    result = match.play(
        env,
        [p0.policy, p1.policy],
        key,
        num_envs=1,
        num_steps=steps,
        params=[p0.params, p1.params],
        record_states=True,
    )
    scenes = [
        render.scene(env.spec.name, jax.tree.map(lambda x, t=t: x[t, 0], result.states))
        for t in range(steps)
    ]
    _write_atomic(out_dir / f"{stem}.json", json.dumps(render.scene_json(scenes)))
    gif = out_dir / f"{stem}.gif"
    tmp = gif.with_name(f".{gif.name}.tmp.gif")
    render.save_gif([render.rasterise(s) for s in scenes], str(tmp), fps=fps)
    tmp.replace(gif)
    counts = result.counts()
    return {
        "scene": f"{stem}.json",
        "file": f"{stem}.gif",
        "player0": p0.name,
        "player1": p1.name,
        "steps": steps,
        "fps": fps,
        "result": {"wins0": counts["team0"], "draws": counts["draw"], "wins1": counts["team1"]},
    }


def _read_index(out_dir: str | Path) -> list[dict[str, Any]]:
    try:
        return json.loads((Path(out_dir) / LEAGUE_REPLAYS).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
