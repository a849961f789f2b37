"""Tournament: a killed run restarts with every scheduled match in the table exactly once."""

from __future__ import annotations

import jax.numpy as jnp
import pandas as pd
import pytest

import envs
from analysis.formats import read_matches
from experiments.core.matches import match_id, run_tournament
from experiments.core.players import Player, scripted_player

GAMES, DECISIONS = 8, 120


def idle_tennis(params, obs, key):
    """Never moves: loses every rally it has to return."""
    return jnp.zeros((obs.shape[0], 2))


@pytest.fixture(scope="module")
def tennis_players():
    players = [scripted_player("tennis", "random"), scripted_player("tennis", "tracker")]
    idle = Player(name="idle", kind="scripted", policy=idle_tennis, params=None, arch="idle")
    return envs.make("tennis"), [*players, idle]


class Killed(Exception):
    """Stands in for a kill signal between two matches."""


def kill_after(k: int):
    seen = []

    def on_match(row):
        seen.append(row["match_id"])
        if len(seen) == k:
            raise Killed

    return on_match


def test_restart_after_a_kill_plays_each_scheduled_match_exactly_once(tmp_path, tennis_players):
    env, players = tennis_players
    db = tmp_path / "matches.sqlite"
    with pytest.raises(Killed):
        run_tournament(
            env, players, db, rounds=2, games=GAMES, decisions=DECISIONS, on_match=kill_after(4)
        )
    assert len(read_matches(db)) == 4  # the killed process kept what it had finished

    table = run_tournament(env, players, db, rounds=2, games=GAMES, decisions=DECISIONS)
    matches = read_matches(db)
    names = [p.name for p in players]
    expected = {
        match_id("tennis", r, a, b) for r in range(2) for a in names for b in names if a != b
    }
    assert sorted(matches["match_id"]) == sorted(expected)  # 12 line-ups, none twice
    assert (matches["wins0"] + matches["draws"] + matches["wins1"] == matches["games"]).all()

    # An uninterrupted tournament plays the same games: seeds come from the match key.
    run_tournament(
        env, players, tmp_path / "clean.sqlite", rounds=2, games=GAMES, decisions=DECISIONS
    )
    clean = read_matches(tmp_path / "clean.sqlite").set_index("match_id")
    cols = ["wins0", "draws", "wins1", "seed"]
    pd.testing.assert_frame_equal(
        matches.set_index("match_id")[cols].sort_index(), clean[cols].sort_index()
    )

    # The tracker returns nearly every ball; random and idle players do not.
    best, *rest = table.itertuples()
    assert best.name == "scripted/tracker"
    assert all(best.bt_low > other.bt_high for other in rest)
    assert (table["bt_low"] <= table["bt"]).all() and (table["bt"] <= table["bt_high"]).all()
    assert table["games"].sum() == 2 * matches["games"].sum()


def test_ladder_pairs_neighbours_in_the_ranking(tmp_path, tennis_players):
    env, players = tennis_players
    fourth = Player(name="idle2", kind="scripted", policy=idle_tennis, params=None, arch="idle")
    db = tmp_path / "ladder.sqlite"
    run_tournament(
        env, [*players, fourth], db, schedule="ladder", rounds=2, games=GAMES, decisions=DECISIONS
    )
    matches = read_matches(db)
    assert (matches["round"] == 0).sum() == 12  # round 0: a round robin of 4
    later = matches[matches["round"] == 1]
    # round 1 starts at offset 1 of the ranking: only the middle pair, on both sides
    pairs = {frozenset(p) for p in zip(later["player0"], later["player1"], strict=True)}
    assert len(later) == 2 and len(pairs) == 1
    assert "scripted/tracker" not in next(iter(pairs))


def test_unknown_schedule_and_duplicate_names_are_refused(tmp_path, tennis_players):
    env, players = tennis_players
    with pytest.raises(ValueError, match="round_robin, ladder"):
        run_tournament(env, players, tmp_path / "x.sqlite", schedule="swiss")
    with pytest.raises(ValueError, match="unique"):
        run_tournament(env, [players[0], players[0]], tmp_path / "x.sqlite")
