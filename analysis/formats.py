"""The on-disk formats of a run and of a match table, defined once, on the reading side.

``experiments`` writes them (it imports these names); ``analysis`` reads them and imports
nothing of ``envs``, ``algos`` or ``experiments``.

A run directory holds ``config.json`` (the resolved training config), ``metrics.jsonl`` (one
JSON object per logged chunk: ``env_steps``, ``agent_steps``, ``wall_s``, ``sps``, ``elo``,
returns, losses, ...), ``checkpoints/``, ``final/`` and, once finished, ``eval.json``
(``vs_<opponent>`` win/draw/loss entries, ``train_wall_s``; for a game with a score of its
own ``game_score`` (``episodes``, ``mean_max_return``, ``solved``; ``tennis_score`` in files
written before it was renamed), and for games with a solved score ``solved_score`` and
``solved_at``). A match table is a SQLite file with the tables of
``MATCH_SCHEMA``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
EVAL_FILE = "eval.json"
HOST_FILE = "host.jsonl"  # one row per invocation of a run: the machine and threading it ran on
MATCH_DB = "matches.sqlite"
# A study's training speed on an idle machine: ``experiments.bench.train``'s JSON rows (algo,
# env, env_steps_per_s, compile_s, memory_mb, ...), one per algorithm and game.
SPEED_FILE = "speed.jsonl"
# A study's checkpoint curves: its runs' policy snapshots against fixed players, a match table
# whose snapshot players are named ``<player>@<env steps>`` (``snapshot_name``).
CURVES_DB = "curves.sqlite"
LEAGUE_REPLAYS = "replays/replays.json"  # a league site's replays, beside its index.html
RUN_IDENTITY = ("algo", "env", "seed")  # what makes two runs the same experiment

MATCH_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS set_aside (  -- pool entries a league could not admit, and why
    env TEXT NOT NULL, entry TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (env, entry)
);
CREATE TABLE IF NOT EXISTS exploits (  -- a fresh learner's curve against a frozen player
    env TEXT NOT NULL, player TEXT NOT NULL, learner TEXT NOT NULL, seed INTEGER NOT NULL,
    env_steps INTEGER NOT NULL,
    win_rate REAL, low REAL NOT NULL, high REAL NOT NULL,  -- decided games, Wilson 95%
    games INTEGER NOT NULL,
    PRIMARY KEY (env, player, learner, seed, env_steps)
);
CREATE TABLE IF NOT EXISTS roles (  -- the behaviour each team plays in an asymmetric game
    env TEXT NOT NULL, team INTEGER NOT NULL, behaviour TEXT NOT NULL,
    PRIMARY KEY (env, team)
);
"""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file written row by row (a torn last line from a killed
    process, and anything after it, is dropped); none if it does not exist."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of a run's metrics file."""
    return read_jsonl(Path(run_dir) / METRICS_FILE)


def read_config(run_dir: str | Path) -> dict[str, Any] | None:
    """The resolved config of a run: ``config.json`` beside the checkpoints, the copy in
    ``final/``, or Hydra's ``.hydra/config.yaml`` (older runs); ``None`` if none exists."""
    run_dir = Path(run_dir)
    for path in (run_dir / CONFIG_FILE, run_dir / "final" / CONFIG_FILE):
        if path.exists():
            return json.loads(path.read_text())
    hydra_copy = run_dir / ".hydra" / "config.yaml"
    if hydra_copy.exists():
        return OmegaConf.to_container(OmegaConf.load(hydra_copy), resolve=True)
    return None


def run_identity(config: Any) -> dict[str, Any]:
    """``RUN_IDENTITY`` of a (resolved or composed) config: ``{algo, env, seed}``."""
    values = {"algo": config["algo"]["name"], "env": config["env"]["name"], "seed": config["seed"]}
    return {key: int(values[key]) if key == "seed" else values[key] for key in RUN_IDENTITY}


def read_matches(db: str | Path, env_name: str | None = None) -> pd.DataFrame:
    """The match table (optionally one env's), in the order the matches finished."""
    with sqlite3.connect(db) as conn:
        query = "SELECT * FROM matches" + (" WHERE env = ?" if env_name else "") + " ORDER BY rowid"
        return pd.read_sql_query(query, conn, params=(env_name,) if env_name else ())


def read_players(db: str | Path) -> pd.DataFrame:
    with sqlite3.connect(db) as conn:
        return pd.read_sql_query("SELECT * FROM players", conn)


def read_set_aside(db: str | Path, env_name: str) -> pd.DataFrame:
    """The entries a league of ``env_name`` set aside (``entry``, ``reason``), by entry."""
    with sqlite3.connect(db) as conn:
        conn.executescript(MATCH_SCHEMA)  # a table from before set-asides were recorded
        query = "SELECT entry, reason FROM set_aside WHERE env = ? ORDER BY entry"
        return pd.read_sql_query(query, conn, params=(env_name,))


def read_exploits(db: str | Path, env_name: str) -> pd.DataFrame:
    """Exploitability curves (``experiments.exploit``) of ``env_name``'s players, in order."""
    with sqlite3.connect(db) as conn:
        conn.executescript(MATCH_SCHEMA)
        query = "SELECT * FROM exploits WHERE env = ? ORDER BY player, learner, seed, env_steps"
        return pd.read_sql_query(query, conn, params=(env_name,))


def read_roles(db: str | Path) -> dict[str, list[str]]:
    """``{env: [behaviour of team 0, of team 1, ...]}`` for the asymmetric games of the table
    (a table written before roles were recorded has none)."""
    with sqlite3.connect(db) as conn:
        conn.executescript(MATCH_SCHEMA)
        rows = conn.execute("SELECT env, team, behaviour FROM roles ORDER BY env, team").fetchall()
    roles: dict[str, list[str]] = {}
    for env, _, behaviour in rows:
        roles.setdefault(env, []).append(behaviour)
    return roles


def snapshot_name(player: str, env_steps: int) -> str:
    """The match-table name of ``player``'s policy after ``env_steps``."""
    return f"{player}@{env_steps}"


def snapshot_of(name: str) -> tuple[str, int] | None:
    """``(player, env steps)`` of a snapshot's name; None for any other player."""
    player, sep, steps = name.rpartition("@")
    return (player, int(steps)) if sep and steps.isdigit() else None
