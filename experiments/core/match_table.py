"""The match table's writer: players and finished matches, one transaction each.

The schema and the readers are ``analysis.formats`` (``MATCH_SCHEMA``, ``read_matches``,
``read_players``), so what is written here is what analysis reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.formats import MATCH_SCHEMA


def connect(db: str | Path) -> sqlite3.Connection:
    """Open (and create, if new) the table at ``db``."""
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.executescript(MATCH_SCHEMA)
    return conn


def add_players(conn: sqlite3.Connection, env_name: str, players: Sequence[Any]) -> None:
    """Record (or update) the players of ``env_name`` (``experiments.core.players.Player``)."""
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO players VALUES (?, ?, ?, ?, ?, ?)",
            [(p.name, env_name, p.kind, p.algo, p.seed, p.source) for p in players],
        )


def set_aside(
    conn: sqlite3.Connection, env_name: str, reasons: dict[str, str], admitted: Sequence[str]
) -> None:
    """Record the pool entries a league set aside (``{entry: reason}``) and forget those
    now ``admitted`` (a model that was fixed)."""
    with conn:
        conn.executemany(
            "DELETE FROM set_aside WHERE env = ? AND entry = ?",
            [(env_name, entry) for entry in admitted],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO set_aside VALUES (?, ?, ?)",
            [(env_name, entry, reason) for entry, reason in reasons.items()],
        )


def add_exploit(conn: sqlite3.Connection, summary: dict[str, Any]) -> None:
    """Record (or replace) an exploitability curve (``experiments.exploit``'s summary)."""
    keys = (summary["env"], summary["player"], summary["learner"], summary["seed"])
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO exploits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (*keys, r["env_steps"], r["win_rate"], r["low"], r["high"], r["games"])
                for r in summary["curve"]
            ],
        )


def add_match(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Commit one finished match: all of it or none of it."""
    with conn:
        conn.execute(
            f"INSERT INTO matches ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )


def add_roles(conn: sqlite3.Connection, env_name: str, behaviours: Sequence[str]) -> None:
    """Record the behaviour each team plays in an asymmetric game (team order)."""
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO roles VALUES (?, ?, ?)",
            [(env_name, team, name) for team, name in enumerate(behaviours)],
        )
