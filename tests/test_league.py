"""The AI-vs-AI league: a pool of runs, model folders, ML-Agents files and scripted players;
every pair played once on both sides whatever the order or interruptions; newcomers play only
their own matches; the Hub path against a local stand-in; the site in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import mlagents_graphs as mg
import numpy as np
import pandas as pd
import pytest
from hub_standin import HubStandin
from onnx import numpy_helper
from PIL import Image
from tiny import config, tiny

import envs
from analysis.formats import read_matches, read_players, read_roles
from analysis.league_site import write_site
from analysis.ratings import role_rating_table
from envs.tennis import render as tennis_render
from experiments import league as league_cli
from experiments.core import training
from experiments.core.matchmaking import hf_round, least_played_round, separating_round
from experiments.core.model_folder import package
from experiments.core.players import model_name, scripted_player
from experiments.core.pool import (
    legs_played,
    pool_entries,
    pool_players,
    run_league,
    unique_names,
    write_replays,
)

GAMES, DECISIONS = 4, 60  # Tennis rallies end fast: a few decisions give decided games
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


@pytest.fixture(scope="module")
def tennis_pool(tmp_path_factory):
    """A pool folder: two tiny runs (IPPO, MADDPG), the MADDPG run packaged as a model folder,
    an ML-Agents-format model file, and a file that is not a Tennis policy."""
    pool = tmp_path_factory.mktemp("pool")
    for algo in ("ippo", "maddpg"):
        overrides = (*tiny(algo), "env=tennis", "eval.decisions=40", "eval.opponents=[random]")
        training.train(config(*overrides), pool / f"{algo}-run")
    package(pool / "maddpg-run", pool / "maddpg-folder", check_samples=16)
    (pool / "mlagents_tennis.onnx").write_bytes(mg.api3_continuous((24,), 2).SerializeToString())
    soccer = mg.api3_discrete((264, 72), (3, 3, 3)).SerializeToString()
    (pool / "soccer_model.onnx").write_bytes(soccer)
    return pool


def test_matchmaking_pairs_close_ratings_and_only_unplayed_pairs():
    names = ["a", "b", "c", "d"]
    ratings = {"a": 1000.0, "b": 1010.0, "c": 1500.0, "d": 1490.0}
    every = {
        frozenset(p)
        for p in [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]
    }
    for seed in range(5):
        pairs = hf_round(names, ratings, every, 1, np.random.default_rng(seed))
        assert {frozenset(p) for p in pairs} == {frozenset("ab"), frozenset("cd")}
    left = {frozenset("ac")}
    assert hf_round(names, ratings, left, 1, np.random.default_rng(0)) in (
        [("a", "c")],
        [("c", "a")],
    )


def test_least_played_pairs_go_first_and_each_player_plays_once_a_round():
    pairs = [frozenset(p) for p in ("ab", "ac", "ad", "bc", "bd", "cd")]
    legs = dict.fromkeys(pairs, 1) | {frozenset("ac"): 0, frozenset("bd"): 0, frozenset("cd"): 0}
    games = {"a": 40, "b": 40, "c": 10, "d": 10}
    for seed in range(5):
        # the unplayed pairs only; c-d has the fewest games but then a and b are left unpaired
        # with each other already played, so the round is c-d alone
        assert least_played_round(legs, games, np.random.default_rng(seed)) == [("c", "d")]
    even = dict.fromkeys(pairs, 0)
    for seed in range(5):
        round_ = least_played_round(even, games, np.random.default_rng(seed))
        assert round_[0] == ("c", "d") and sorted(round_) == [("a", "b"), ("c", "d")]


def test_the_separating_round_pairs_overlapping_neighbours_only():
    ranking = pd.DataFrame(
        {
            "name": ["a", "b", "c", "d", "e"],
            "bt": [1500.0, 1480.0, 1300.0, 1290.0, 1285.0],
            "bt_low": [1470.0, 1450.0, 1270.0, 1260.0, 1250.0],
            "bt_high": [1530.0, 1510.0, 1330.0, 1320.0, 1300.0],
        }
    )
    # a-b overlap by 40, c-d by 50, d-e by 40 (d is taken by c-d first); b-c do not overlap
    assert sorted(separating_round(ranking)) == [("a", "b"), ("c", "d")]
    apart = ranking.assign(bt_low=ranking["bt"] - 1, bt_high=ranking["bt"] + 1)
    assert separating_round(apart) == []


def test_separate_spends_its_budget_on_copies_that_never_separate(tmp_path):
    env = envs.make("tennis")
    tracker = scripted_player("tennis", "tracker")
    players = unique_names([tracker, tracker, scripted_player("tennis", "random")])
    db = tmp_path / "league.sqlite"
    with pytest.raises(ValueError, match="needs a budget"):
        run_league(env, players, db, 8, 200, matchmaking="separate")
    table = run_league(env, players, db, 8, 200, matchmaking="separate", budget=6 + 4)
    matches = read_matches(db, "tennis")
    assert len(matches) == 10 and table["games"].min() > 0
    one, copy, random = [p.name for p in players]
    # every pair once first, then the copies (whose intervals overlap) two more legs; the
    # tracker beats random by intervals that do not overlap
    assert legs_played(matches, "tennis", [one, copy, random]) == {
        frozenset((one, copy)): 3,
        frozenset((one, random)): 1,
        frozenset((copy, random)): 1,
    }
    run_league(env, players, db, 8, 200, matchmaking="separate", budget=0)
    assert len(read_matches(db, "tennis")) == 10  # a spent budget plays nothing


def test_least_played_spreads_a_small_budget_over_every_player(tmp_path):
    env = envs.make("tennis")
    names = ("tracker", "tracker", "random", "random")
    players = unique_names([scripted_player("tennis", n) for n in names])
    db = tmp_path / "league.sqlite"
    run_league(env, players, db, 4, 60, matchmaking="least-played", budget=4)
    matches = read_matches(db, "tennis")
    # 4 matches: two legs (a pair on both sides each) over four different players
    seen = pd.concat([matches["player0"], matches["player1"]]).value_counts()
    assert len(matches) == 4 and sorted(seen.index) == sorted(p.name for p in players)
    assert set(seen) == {2}
    run_league(env, players, db, 4, 60, matchmaking="least-played")  # no budget: every pair
    legs = legs_played(read_matches(db, "tennis"), "tennis", [p.name for p in players])
    assert set(legs.values()) == {1}


def test_pool_finds_runs_folders_and_files_and_skips_what_does_not_fit(tennis_pool):
    entries = pool_entries(tennis_pool)
    assert [e.name for e in entries] == [
        "ippo-run",
        "maddpg-folder",
        "maddpg-run",
        "mlagents_tennis.onnx",
        "soccer_model.onnx",
    ]
    players, skipped = pool_players(entries, "tennis")
    assert [p.kind for p in players] == ["trained", "onnx", "trained", "onnx"]
    assert players[1].algo == "maddpg" and players[3].algo == "onnx-api3"
    assert list(skipped) == [str(tennis_pool / "soccer_model.onnx")]
    # the reason: discrete actions, Tennis is continuous
    assert "action masks" in skipped[str(tennis_pool / "soccer_model.onnx")]


def league_players(tennis_pool):
    players, _ = pool_players(pool_entries(tennis_pool), "tennis")
    return players + [scripted_player("tennis", n) for n in ("random", "tracker")]


def results(db) -> pd.DataFrame:
    table = read_matches(db, "tennis")
    return table.set_index("match_id")[["player0", "player1", "wins0", "draws", "wins1", "seed"]]


class Killed(Exception):
    """Stands in for a kill signal after a committed match."""


def test_a_killed_league_restarts_without_losing_or_doubling_and_ends_the_same(
    tmp_path, tennis_pool
):
    env, players = envs.make("tennis"), league_players(tennis_pool)
    n = len(players)
    whole = tmp_path / "whole.sqlite"
    run_league(env, players, whole, GAMES, DECISIONS)
    assert len(results(whole)) == n * (n - 1)  # every pair, both sides, once

    killed, seen = tmp_path / "killed.sqlite", []

    def kill_after_five(row):
        seen.append(row["match_id"])
        if len(seen) == 5:
            raise Killed

    with pytest.raises(Killed):
        run_league(env, players, killed, GAMES, DECISIONS, on_match=kill_after_five)
    assert len(results(killed)) == 5  # committed before the kill: kept
    replayed = []
    run_league(
        env, players, killed, GAMES, DECISIONS, on_match=lambda r: replayed.append(r["match_id"])
    )
    assert not set(replayed) & set(seen)  # nothing played twice
    pd.testing.assert_frame_equal(results(killed).sort_index(), results(whole).sort_index())


def test_a_newcomer_plays_only_its_own_matches(tmp_path, tennis_pool):
    env, players = envs.make("tennis"), league_players(tennis_pool)
    db = tmp_path / "league.sqlite"
    old, newcomer = players[:-1], players[-1]
    run_league(env, old, db, GAMES, DECISIONS)
    before = len(results(db))
    played = []
    run_league(env, players, db, GAMES, DECISIONS, on_match=played.append)
    assert len(played) == 2 * len(old) == len(results(db)) - before
    assert all(newcomer.name in (r["player0"], r["player1"]) for r in played)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
    return path


def chromium_run(tmp_path, *args: str) -> str:
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered_dom(index, tmp_path, view: str = "") -> str:
    """The page's DOM after its script ran; ``view`` is the address's ``#...`` part."""
    return chromium_run(tmp_path, "--dump-dom", index.as_uri() + view)


def screenshot(index, tmp_path) -> np.ndarray:
    shot = tmp_path / "shot.png"
    chromium_run(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", index.as_uri())
    return np.asarray(Image.open(shot).convert("RGB"))


def test_league_command_writes_a_dataset_and_a_site_that_a_browser_renders(
    tmp_path, tennis_pool, capsys
):
    db, site = tmp_path / "league.sqlite", tmp_path / "site"
    argv = ["--pool", str(tennis_pool), "--db", str(db), "--out", str(site)]
    argv += ["--games", str(GAMES), "--decisions", str(DECISIONS), "--replays", "2"]
    with pytest.raises(SystemExit, match=r"soccer_twos', 'tennis'.*--env"):  # a mixed pool
        league_cli.main(argv)
    league_cli.main([*argv, "--env", "tennis", "--replay-steps", "20"])
    out = capsys.readouterr().out
    assert "set aside" in out and "soccer_model.onnx" in out
    players = read_players(db)
    n = len(players)
    assert n == 6 and set(players["kind"]) == {"trained", "onnx", "scripted"}
    assert len(read_matches(db, "tennis")) == n * (n - 1)

    dom = rendered_dom(site / "index.html", tmp_path)
    assert 'data-ready="1"' in dom
    rows = re.findall(r'<tr class="player-row[^"]*" data-player="([^"]+)"', dom)
    assert sorted(rows) == sorted(players["name"])
    # Each row carries BT, its interval, ELO, Nash averaging, α-Rank and how far a best response
    # beat it; the legend says which.
    first_row = re.search(r'<tr class="player-row.*?</tr>', dom).group(0)
    assert first_row.count("<td") == 12
    assert 'id="legend"' in dom and "Nash avg" in dom and "α-Rank" in dom
    assert len(re.findall(r'class="match-row"', dom)) == 2 * (n - 1)  # the leader's panel
    assert len(re.findall(r'<rect class="cell"', dom)) == n * n  # the head-to-head matrix
    assert len(re.findall(r'<circle class="rating"', dom)) == n  # ratings with intervals
    assert len(re.findall(r'<line class="interval"', dom)) == n
    # top 2: one pair, drawn on a canvas with its controls
    assert len(re.findall(r'<figure class="replay"[^>]*data-loaded="1"', dom)) == 1
    assert 'class="scrub"' in dom and 'class="speed"' in dom and "1 / 20" in dom
    set_aside = re.findall(r'<tr class="bad"><td class="text">([^<]+)</td>', dom)
    assert set_aside == [str(tennis_pool / "soccer_model.onnx")]

    # the view is in the address: filtered, sorted, and a run's panel with its training curve
    run = next(
        name
        for name, kind in zip(players["name"], players["kind"], strict=True)
        if kind == "trained"
    )
    view = f"#filter=scripted&sort=name&dir=-1&player={run}"
    dom = rendered_dom(site / "index.html", tmp_path, view)
    rows = re.findall(r'<tr class="player-row[^"]*" data-player="([^"]+)"', dom)
    assert rows == ["scripted/tracker", "scripted/random"]
    assert f'<h2 id="player-name">{run}</h2>' in dom and 'class="curve"' in dom

    # what a person sees: not blank, the heat map's colours, the replay's court on the canvas
    pixels = screenshot(site / "index.html", tmp_path)
    colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    seen = dict(zip(map(tuple, colours), counts, strict=True))
    assert len(colours) > 50, "a blank page"
    assert seen.get(tennis_render.NIGHT, 0) > 20_000, "no replay on the canvas"
    assert seen.get(tennis_render.COURT, 0) > 1_000, "no court on the canvas"
    reds = (pixels[..., 0] > 200) & (pixels[..., 1] < 150) & (pixels[..., 2] < 150)
    blues = (pixels[..., 2] > 150) & (pixels[..., 0] < 120)
    assert reds.sum() > 500 and blues.sum() > 500, "no heat map"

    # rewriting the site from the same files gives the same page
    first = (site / "index.html").read_text()
    write_site(db, "tennis", site)
    assert (site / "index.html").read_text() == first


def test_hub_models_are_fetched_once_and_misfits_skipped(tmp_path, capsys):
    fitting = mg.api2_discrete((264, 72), (3, 3, 3)).SerializeToString()
    misfit = mg.api3_discrete((264, 70), (3, 3, 3)).SerializeToString()
    card = b"---\nlibrary_name: ml-agents\n---\n"
    repos = {
        "alice/SoccerTwos-poca": {
            "tags": ["ML-Agents-SoccerTwos"],
            "files": {"SoccerTwos.onnx": fitting, "README.md": card, "run_logs/big.bin": b"0" * 99},
        },
        "carol/SoccerTwos-wrong": {
            "tags": ["ML-Agents-SoccerTwos"],
            "files": {"SoccerTwos.onnx": misfit},
        },
        "dave/Pyramids": {"tags": ["ML-Agents-Pyramids"], "files": {"Pyramids.onnx": fitting}},
    }
    db, cache = tmp_path / "league.sqlite", tmp_path / "cache"
    argv = ["--hub-tag", "ML-Agents-SoccerTwos", "--cache", str(cache), "--db", str(db)]
    argv += ["--env", "soccer_twos", "--scripted", "random", "--games", "2", "--decisions", "30"]
    with HubStandin(repos) as hub:
        league_cli.main([*argv, "--hub-endpoint", hub.endpoint])
        first = dict(hub.downloads)
        league_cli.main([*argv, "--hub-endpoint", hub.endpoint])
        assert dict(hub.downloads) == first  # cached: nothing fetched again
    assert set(first) == {
        "alice/SoccerTwos-poca/SoccerTwos.onnx",
        "alice/SoccerTwos-poca/README.md",
        "carol/SoccerTwos-wrong/SoccerTwos.onnx",
    }
    out = capsys.readouterr().out
    assert "set aside carol/SoccerTwos-wrong" in out and "obs_1[70]" in out
    assert sorted(read_players(db)["name"]) == ["alice/SoccerTwos-poca", "scripted/random"]
    assert len(read_matches(db, "soccer_twos")) == 2


def test_replays_are_kept_across_calls(tmp_path, tennis_pool):
    env, players = envs.make("tennis"), league_players(tennis_pool)[-2:]
    db = tmp_path / "league.sqlite"
    table = run_league(env, players, db, GAMES, DECISIONS)
    index = write_replays(env, players, table, tmp_path, top=2, steps=10)
    gif = tmp_path / index[0]["file"]
    stamp = gif.stat().st_mtime_ns
    assert write_replays(env, players, table, tmp_path, top=2, steps=10) == index
    assert gif.stat().st_mtime_ns == stamp


def test_a_strikers_vs_goalie_league_keeps_per_role_ratings(tmp_path):
    """The league plays through the tournament's match engine, so it records the role each
    team plays and every player is rated as striker and as goalie, on one scale."""
    env = envs.make("strikers_vs_goalie")
    players = [scripted_player(env.spec.name, n) for n in ("random", "scripted")]
    db = tmp_path / "roles.sqlite"
    run_league(env, players, db, games=2, decisions=20)
    roles = read_roles(db)
    assert roles == {"strikers_vs_goalie": ["Striker", "Goalie"]}
    matches = read_matches(db, env.spec.name)
    assert len(matches) == 2  # one pair, both sides
    table = role_rating_table(matches, roles[env.spec.name], resamples=0)
    names = [p.name for p in players]
    assert sorted(zip(table["player"], table["behaviour"], strict=True)) == sorted(
        (n, b) for n in names for b in ("Striker", "Goalie")
    )
    # each role player's games are the ones its player played in that role
    games = table.set_index("name")["games"]
    for row in matches.itertuples():
        played = row.wins0 + row.draws + row.wins1
        assert games[f"{row.player0}/Striker"] == games[f"{row.player1}/Goalie"] == played


def test_players_are_named_by_their_folders_not_their_behaviour(tmp_path):
    """ML-Agents writes every SoccerTwos run as ``<run>/SoccerTwos.onnx``: the run's folder
    names the player; a file with a name of its own keeps it."""
    model = mg.api3_discrete((264, 72), (3, 3, 3)).SerializeToString()
    (tmp_path / "poca-run-3").mkdir()
    (tmp_path / "poca-run-3" / "SoccerTwos.onnx").write_bytes(model)
    (tmp_path / "my_model.onnx").write_bytes(model)
    assert model_name(tmp_path / "poca-run-3" / "SoccerTwos.onnx") == "poca-run-3"
    assert model_name(tmp_path / "my_model.onnx") == "my_model"


def test_a_model_that_answers_nan_is_set_aside_with_its_reason(tmp_path):
    good = mg.api3_continuous((24,), 2)
    broken = mg.api3_continuous((24,), 2)
    weight = next(t for t in broken.graph.initializer if numpy_helper.to_array(t).ndim == 2)
    nan = np.full(numpy_helper.to_array(weight).shape, np.nan, np.float32)
    weight.CopyFrom(numpy_helper.from_array(nan, weight.name))
    (tmp_path / "good.onnx").write_bytes(good.SerializeToString())
    (tmp_path / "nan_weights.onnx").write_bytes(broken.SerializeToString())
    players, skipped = pool_players(pool_entries(tmp_path), "tennis")
    assert [p.name for p in players] == ["good"]
    assert list(skipped) == [str(tmp_path / "nan_weights.onnx")]
    assert "NaN" in skipped[str(tmp_path / "nan_weights.onnx")]
