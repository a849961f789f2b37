"""The league's leaderboard site: one ``index.html`` that opens from ``file://``, no server.

Read from files only: the match table (``analysis.formats``: matches, players, set-aside
entries, exploitability curves), the replays' index and scenes beside the page
(``replays/``), and, for a player that is a run directory, its ``metrics.jsonl``. The page
holds:

- the ranking, sortable by any column and filterable by name and kind, with every rating
  (Bradley–Terry and its 95% bootstrap interval, ELO as HF computes it, Nash averaging,
  α-Rank), how far a best response beat it, and a legend that says when to trust which;
- the ratings with their intervals as a chart, and the head-to-head score matrix as a heat
  map, both in rating order;
- replays as a canvas player (play, pause, scrub, speed) drawing the recorded scenes, the
  GIF as the fallback;
- a player panel: record, matches, its exploitability curves (``experiments.exploit``: a
  fresh learner's win rate against it over training) and, for a run, its self-play ELO;
- the models set aside, with the reason.

The data is embedded as JSON and drawn by the page's script; it marks ``<body data-ready>``
when everything is drawn and each replay ``data-loaded`` when its first frame is on the canvas
(what the browser tests read).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.formats import (
    LEAGUE_REPLAYS,
    read_exploits,
    read_matches,
    read_metrics,
    read_players,
    read_set_aside,
)
from analysis.game_ratings import score_matrix
from analysis.ratings import rating_table

PAGE_FILE = Path(__file__).with_name("league_page.html")


def league_data(db: str | Path, env_name: str, out_dir: str | Path) -> dict[str, Any]:
    """What the page shows: ranking rows, the score matrix, matches, replays (with their
    scenes), training curves and the set-aside entries."""
    matches = read_matches(db, env_name)
    players = read_players(db)
    players = players[players["env"] == env_name]
    names = sorted(players["name"])
    table = rating_table(matches, names) if names else pd.DataFrame()
    facts = players.set_index("name")
    exploits = _exploits(read_exploits(db, env_name))
    ranking = [_ranking_row(row, facts, "bt_low" in table) for row in table.itertuples()]
    for r in ranking:  # how far the strongest best response got: the page's "exploited"
        finals = [c["win_rate"][-1] for c in exploits.get(r["name"], [])]
        finals = [f for f in finals if f is not None]
        r["exploited"] = max(finals) if finals else None
    order = [r["name"] for r in ranking]
    columns = ["player0", "player1", "wins0", "draws", "wins1", "games"]
    return {
        "env": env_name,
        "ranking": ranking,
        "matrix": _matrix(matches, order),
        "matches": matches[columns].to_dict("records"),
        "replays": _replays(Path(out_dir)),
        "curves": {r["name"]: c for r in ranking if (c := _curve(r))},
        "exploits": exploits,
        "set_aside": read_set_aside(db, env_name).to_dict("records"),
    }


def _ranking_row(row: Any, facts: pd.DataFrame, intervals: bool) -> dict[str, Any]:
    return {
        "name": row.name,
        "bt": float(row.bt),
        "bt_low": float(row.bt_low) if intervals else None,
        "bt_high": float(row.bt_high) if intervals else None,
        "elo": float(row.elo),
        "nash": float(row.nash),
        "alpharank": float(row.alpharank),
        "games": int(row.games),
        "wins": int(row.wins),
        "draws": int(row.draws),
        "losses": int(row.losses),
        "score": float(row.score),
        "kind": _text(facts.loc[row.name, "kind"]),
        "source": _text(facts.loc[row.name, "source"]),
    }


def _matrix(matches: pd.DataFrame, order: list[str]) -> dict[str, Any]:
    """Row player's mean score against the column player, and the games behind it (rating
    order); ``None`` where a pair never met."""
    scores = score_matrix(matches, order)
    games = np.zeros((len(order), len(order)), int)
    index = {name: i for i, name in enumerate(order)}
    for row in matches.itertuples(index=False):
        if row.player0 in index and row.player1 in index:
            i, j = index[row.player0], index[row.player1]
            games[i, j] += row.games
            games[j, i] += row.games
    score = [
        [round(float(scores[i, j]), 4) if games[i, j] else None for j in range(len(order))]
        for i in range(len(order))
    ]
    return {"names": order, "score": score, "games": games.tolist()}


def _replays(out_dir: Path) -> list[dict[str, Any]]:
    """The replays of the index whose scenes are on disk, each with its scenes embedded
    (a page opened from ``file://`` may not fetch files beside it)."""
    index_file = out_dir / LEAGUE_REPLAYS
    index = json.loads(index_file.read_text()) if index_file.exists() else []
    replays = []
    for replay in index:
        scene = out_dir / replay.get("scene", "")
        if scene.is_file():
            replays.append({**replay, "scenes": json.loads(scene.read_text())})
    return replays


def _curve(player: dict[str, Any]) -> dict[str, list[float]] | None:
    """A run's self-play ELO over env steps (ML-Agents' ghost ELO), if the player is a run
    directory whose metrics are still on disk."""
    if player["kind"] != "trained" or not player["source"]:
        return None
    rows = [r for r in read_metrics(player["source"]) if "elo" in r and "env_steps" in r]
    if not rows:
        return None
    return {"env_steps": [r["env_steps"] for r in rows], "elo": [r["elo"] for r in rows]}


def _exploits(table: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per player, its exploitability curves: one per learner and seed."""
    out: dict[str, list[dict[str, Any]]] = {}
    for (player, learner, seed), rows in table.groupby(["player", "learner", "seed"]):
        out.setdefault(player, []).append(
            {
                "learner": learner,
                "seed": int(seed),
                "env_steps": rows["env_steps"].astype(int).tolist(),
                "win_rate": [None if pd.isna(v) else float(v) for v in rows["win_rate"]],
                "low": rows["low"].astype(float).tolist(),
                "high": rows["high"].astype(float).tolist(),
            }
        )
    return out


def _text(value: Any) -> str | None:
    """A text cell of the players table (SQLite NULL reads as NaN): JSON has no NaN."""
    return None if pd.isna(value) else str(value)


def write_site(db: str | Path, env_name: str, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` (atomically); returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = league_data(db, env_name, out)
    games = sum(m["games"] for m in data["matches"])
    summary = (
        f"{len(data['ranking'])} players, {len(data['matches'])} matches, {games} games, "
        f"{len(data['set_aside'])} set aside."
    )
    # "</" must not end the embedded JSON's script element early
    payload = json.dumps(data, default=str, allow_nan=False).replace("</", "<\\/")
    page = (
        PAGE_FILE.read_text()
        .replace("@@TITLE@@", html.escape(f"{env_name} league"))
        .replace("@@SUMMARY@@", html.escape(summary))
        .replace("@@DATA@@", payload)
    )
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page)
    tmp.replace(path)
    return path
