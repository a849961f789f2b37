"""The smoke study end to end: train, tournament, every figure and table, the notebooks, and a
second invocation that finds everything done and redoes nothing."""

from __future__ import annotations

import os
import runpy
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from experiments import reproduce as study

ROOT = Path(__file__).resolve().parents[1]
# The smoke study trains 18 runs in the first test's setup: 6 minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(1800)
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
    def written():
        return {p: p.stat().st_mtime for p in smoke_study.glob("runs/**/*") if p.is_file()}

    before = written()
    assert len([p for p in before if p.name.startswith("train_seed")]) == 9  # a log per group
    done = reproduce(smoke_study, "stages=[train]")
    assert done.returncode == 0, done.stderr[-3000:]
    assert written() == before  # no run was started again


@pytest.mark.parametrize("notebook", ["training_curves", "tournament_ratings"])
def test_notebooks_execute_on_the_smoke_results(smoke_study, notebook, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDY_DIR", str(smoke_study))
    monkeypatch.setenv("FIGURES_DIR", str(tmp_path))
    monkeypatch.setenv("REPS", "50")
    runpy.run_path(str(ROOT / "analysis" / "notebooks" / f"{notebook}.py"), run_name="__main__")
    assert list(tmp_path.glob("*.png"))


def test_a_run_that_writes_nothing_is_killed(tmp_path):
    """XLA's CPU runtime once hung a smoke run forever in one op: a run whose directory sees
    no write for the stall time is killed; one that keeps writing runs to its end."""
    with open(tmp_path / "train.log", "w") as log:
        t = time.perf_counter()
        hung = [sys.executable, "-c", "import time; time.sleep(120)"]
        assert study.run_watched(hung, log, dict(os.environ), [tmp_path], 1.0) is None
        assert time.perf_counter() - t < 60
        beat = tmp_path / "beat"
        writes = f"import time\nfor i in range(6):\n    open({str(beat)!r}, 'w').write(str(i))\n"
        busy = [sys.executable, "-c", writes + "    time.sleep(0.5)"]
        assert study.run_watched(busy, log, dict(os.environ), [tmp_path], 1.5) == 0


def test_a_stalled_group_is_resumed_once_then_reported(tmp_path, monkeypatch):
    line = tmp_path / "runs" / "tennis" / "ippo"
    (line / "seed0").mkdir(parents=True)
    (line / "seed0" / "eval.json").write_text("{}")  # finished before: not trained again
    calls: list[list[str]] = []

    def stalls(codes):
        def fake(cmd, log, env, directories, stall_s):
            calls.append(cmd)
            assert directories == [line / "seed0", line / "seed1"]  # what the watch reads
            return codes.pop(0)

        return fake

    monkeypatch.setattr(study, "run_watched", stalls([None, 0]))
    assert study.train_group(line, [0, 1], ["env=tennis"], False, None, 1.0) is None
    assert [c[-4:] for c in calls] == 2 * [
        ["seeds=[1]", f"resume={line}", f"hydra.run.dir={line}", "hydra.output_subdir=null"]
    ]
    assert "killed" in (line / "train_seed1.log").read_text()
    calls.clear()
    monkeypatch.setattr(study, "run_watched", stalls([None, None]))
    assert "stalled twice" in study.train_group(line, [0, 1], [], False, None, 1.0)
    assert len(calls) == 2
    (line / "seed1" / "eval.json").write_text("{}")
    assert study.train_group(line, [0, 1], [], False, None, 1.0) is None and len(calls) == 2


def test_groups_are_seed_major_with_seeds_per_process(tmp_path):
    preset = OmegaConf.load(ROOT / "conf" / "preset" / "smoke.yaml")
    preset.seeds, preset.seeds_per_process = [0, 1, 2], 2
    groups = [(d.relative_to(tmp_path), s) for d, s, _ in study.planned_groups(preset, tmp_path)]
    lines = [Path("runs", env, line) for env in preset.envs for line in preset.lines]
    assert groups == [(d, [0, 1]) for d in lines] + [(d, [2]) for d in lines]


def test_the_paper_runs_fewer_maddpg_seeds_on_the_soccer_games_only(tmp_path):
    preset = OmegaConf.load(ROOT / "conf" / "preset" / "paper.yaml")
    runs = [d.relative_to(tmp_path / "runs") for d, _ in study.planned_runs(preset, tmp_path)]
    count = {(env, line): sum(r.parts[:2] == (env, line) for r in runs) for env, line in
             {r.parts[:2] for r in runs}}
    assert count.pop(("soccer_twos", "maddpg")) == count.pop(("strikers_vs_goalie", "maddpg")) == 3
    assert set(count.values()) == {8} and len(count) == 3 * 3 - 2
    groups = study.planned_groups(preset, tmp_path)
    assert sorted(str(d.relative_to(tmp_path)) + f"/seed{s}" for d, seeds, _ in groups
                  for s in seeds) == sorted(f"runs/{r}" for r in runs)
    finished = tmp_path / "runs" / "soccer_twos" / "maddpg" / "seed3"
    finished.mkdir(parents=True)
    (finished / "eval.json").write_text("{}")  # a seed the preset does not run is not its run
    with pytest.raises(SystemExit, match="no finished soccer_twos runs"):
        study.env_runs(preset, tmp_path, "soccer_twos")
