"""The smoke study end to end: train, tournament, every figure and table, the notebooks, and a
second invocation that finds everything done and redoes nothing."""

from __future__ import annotations

import runpy
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ["elo_curves", "tennis_score", "ratings", "win_rates", "aggregates", "improvement"]
TABLES = [
    "runs",
    "runs_summary",
    "ratings",
    "role_ratings",
    "head_to_head",
    "aggregates",
    "improvement",
]


def reproduce(out_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.reproduce",
            "preset=smoke",
            f"out_dir={out_dir}",
            *overrides,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("smoke")
    done = reproduce(out_dir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out_dir


def test_smoke_preset_produces_every_figure_and_table(smoke_study):
    for name in FIGURES:
        assert (smoke_study / "figures" / f"{name}.png").stat().st_size > 10_000, name
    for name in TABLES:
        assert (smoke_study / "tables" / f"{name}.md").read_text().count("\n") >= 3, name
    runs = sorted(p.parent for p in smoke_study.glob("runs/*/*/seed*/eval.json"))
    assert len(runs) == 3 * 3 * 2  # algos x envs x seeds
    with sqlite3.connect(smoke_study / "matches.sqlite") as conn:
        (players,) = conn.execute("SELECT COUNT(*) FROM players").fetchone()
        (matches,) = conn.execute("SELECT COUNT(*) FROM matches").fetchone()
        roles = conn.execute("SELECT env, team, behaviour FROM roles ORDER BY team").fetchall()
    assert players == 6 + 3 + 6 + 2 + 6 + 2  # trained + scripted, per env
    assert matches == 9 * 8 + 8 * 7 + 8 * 7  # round robin on both sides, per env
    assert roles == [("strikers_vs_goalie", 0, "Striker"), ("strikers_vs_goalie", 1, "Goalie")]
    # Per-behaviour ratings: every StrikersVsGoalie player is rated as strikers and as goalie.
    role_table = (smoke_study / "tables" / "role_ratings.md").read_text()
    assert role_table.count("/Striker") == 8 and role_table.count("/Goalie") == 8


def test_a_second_run_finds_the_training_done(smoke_study):
    logs = {p: p.stat().st_mtime for p in smoke_study.glob("runs/*/*/seed*/train.log")}
    done = reproduce(smoke_study, "stages=[train]")
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p: p.stat().st_mtime for p in logs} == logs  # no run was started again


@pytest.mark.parametrize("notebook", ["training_curves", "tournament_ratings"])
def test_notebooks_execute_on_the_smoke_results(smoke_study, notebook, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDY_DIR", str(smoke_study))
    monkeypatch.setenv("FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("REPS", "50")
    runpy.run_path(str(ROOT / "analysis" / "notebooks" / f"{notebook}.py"), run_name="__main__")
    assert list(tmp_path.glob("*.png"))
