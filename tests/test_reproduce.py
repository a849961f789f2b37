"""The smoke study end to end: train, tournament, every figure and table, the notebooks, and a
second invocation that finds everything done and redoes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from analysis.results import load_snapshot_scores
from experiments import reproduce as study
from experiments.core import references
from tests import mlagents_graphs as mg

ROOT = Path(__file__).resolve().parents[1]
# The smoke study trains 18 runs in the first test's setup: 6 minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(1800)
FIGURES = [
    "elo_curves",
    "tennis_score",
    "ratings",
    "win_rates",
    "aggregates",
    "improvement",
    "soccer_twos_vs_fixed",
    "strikers_vs_goalie_vs_fixed",
    "tennis_vs_fixed",
    "soccer_twos_vs_fixed_compute",
    "strikers_vs_goalie_vs_fixed_compute",
    "tennis_vs_fixed_compute",
]
TABLES = [
    "runs",
    "runs_summary",
    "ratings",
    "group_ratings",
    "role_ratings",
    "head_to_head",
    "aggregates",
    "improvement",
    "vs_fixed",
    "speed",
    "equal_compute",
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
def reference_folder(tmp_path_factory) -> Path:
    """ML-Agents-format models as a user's folder holds them: a SoccerTwos file, a
    StrikersVsGoalie model folder, and a file that fits no game."""
    folder = tmp_path_factory.mktemp("mlagents")
    model = mg.api3_discrete(mg.SOCCER_SENSORS, mg.SOCCER_BRANCHES, seed=3)
    (folder / "SoccerTwos.onnx").write_bytes(model.SerializeToString())
    mg.strikers_vs_goalie_folder(folder / "StrikersVsGoalie")
    (folder / "Odd.onnx").write_bytes(mg.api3_continuous((5,), 3).SerializeToString())
    return folder


@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory, reference_folder) -> Path:
    out_dir = tmp_path_factory.mktemp("smoke")
    # Speed is measured apart (experiments.bench.train, on an idle machine) and kept beside the
    # runs; here a stand-in in which each algorithm is half as fast as the one before.
    speed = [
        {"env": env, "algo": algo, "num_envs": 4, "env_steps_per_s": rate, "compile_s": 1.0,
         "memory_mb": 10.0}
        for env in ("soccer_twos", "strikers_vs_goalie", "tennis")
        for algo, rate in (("ippo", 400.0), ("poca", 200.0), ("maddpg", 100.0))
    ]  # fmt: skip
    (out_dir / "speed.jsonl").write_text("".join(json.dumps(row) + "\n" for row in speed))
    done = reproduce(out_dir, f"preset.reference_models={reference_folder}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Odd.onnx: left out" in done.stdout  # fits no game: said, and the study goes on
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
    assert players == 6 + 3 + 1 + 6 + 2 + 6 + 2 + 1  # trained + scripted + reference, per env
    assert matches == 10 * 9 + 8 * 7 + 9 * 8  # round robin on both sides, per env
    assert roles == [("strikers_vs_goalie", 0, "Striker"), ("strikers_vs_goalie", 1, "Goalie")]
    # Per-behaviour ratings: every StrikersVsGoalie player is rated as strikers and as goalie.
    role_names = pd.read_csv(smoke_study / "tables" / "role_ratings.csv")["name"]
    assert role_names.str.endswith("/Striker").sum() == role_names.str.endswith("/Goalie").sum()
    assert role_names.str.endswith("/Striker").sum() == 9
    # Each algorithm against ML-Agents' model: a group of its own in the head-to-head table.
    h2h = (smoke_study / "tables" / "head_to_head.csv").read_text()
    assert h2h.count("soccer_twos,mlagents,") == 3 + 3  # vs the 3 algos and 3 scripted


def test_every_snapshot_meets_every_fixed_player_and_every_run_is_exported(smoke_study):
    fixed = {
        "soccer_twos": {
            "scripted/random",
            "scripted/chaser",
            "scripted/goalie",
            "mlagents/SoccerTwos",
        },
        "strikers_vs_goalie": {"scripted/random", "scripted/scripted", "mlagents/StrikersVsGoalie"},
        "tennis": {"scripted/random", "scripted/tracker"},
    }
    scores = load_snapshot_scores(smoke_study / "curves.sqlite")
    for run in smoke_study.glob("runs/*/*/seed*"):
        env, line, seed = run.parts[-3], run.parts[-2], int(run.name.removeprefix("seed"))
        mine = scores[(scores["env"] == env) & (scores["algo"] == line) & (scores["seed"] == seed)]
        # Snapshots after chunks 2 and 4 of 64 env steps, each against every fixed player.
        assert set(zip(mine["env_steps"], mine["opponent"], strict=True)) == {
            (steps, o) for steps in (128, 256) for o in fixed[env]
        }, run
        files = {p.name for p in (run / "export").glob("*.onnx")}
        behaviours = {"strikers_vs_goalie": {"Striker.onnx", "Goalie.onnx"}}
        assert files == behaviours.get(
            env, {"SoccerTwos.onnx" if env == "soccer_twos" else "Tennis.onnx"}
        ), run
        parity = json.loads((run / "export" / "parity.json").read_text())
        assert set(parity) == files
    table = pd.read_csv(smoke_study / "tables" / "vs_fixed.csv")
    row = table[(table["algo"] == "poca") & (table["opponent"] == "mlagents/SoccerTwos")]
    assert row[["runs", "env_steps"]].values.tolist() == [[2, 256]]
    # At the compute of IPPO's full run (256 env steps), POCA (half as fast) is read at its
    # snapshot after 128 env steps, MADDPG (a quarter) has none.
    equal = pd.read_csv(smoke_study / "tables" / "equal_compute.csv")
    reached = equal.groupby("algo")["env_steps"].max().to_dict()
    assert reached == {"ippo": 256, "poca": 128}


def test_the_reference_models_are_recorded_and_held_fixed(smoke_study, reference_folder, tmp_path):
    record = json.loads((smoke_study / references.REFERENCES_FILE).read_text())["models"]
    assert [(m["name"], m["env"]) for m in record] == [
        ("mlagents/SoccerTwos", "soccer_twos"),
        ("mlagents/StrikersVsGoalie", "strikers_vs_goalie"),
    ]
    sha = hashlib.sha256((reference_folder / "SoccerTwos.onnx").read_bytes()).hexdigest()
    assert record[0]["sha256"] == {"SoccerTwos.onnx": sha}
    assert set(record[1]["sha256"]) == {
        "StrikersVsGoalie/Goalie.onnx",
        "StrikersVsGoalie/Striker.onnx",
    }
    with pytest.raises(SystemExit, match=r"preset\.reference_models=<folder>"):
        references.resolve(None, smoke_study)  # the study plays them: the folder is needed
    other = tmp_path / "other"
    shutil.copytree(reference_folder, other)
    model = mg.api3_discrete(mg.SOCCER_SENSORS, mg.SOCCER_BRANCHES, seed=4)  # another model
    (other / "SoccerTwos.onnx").write_bytes(model.SerializeToString())
    with pytest.raises(SystemExit, match=r"mlagents/SoccerTwos .* is not the one this study used"):
        references.resolve(other, smoke_study)
    assert references.resolve(reference_folder, smoke_study) == record


def test_a_second_run_finds_the_training_done(smoke_study):
    def written():
        return {p: p.stat().st_mtime for p in smoke_study.glob("runs/**/*") if p.is_file()}

    before = written()
    assert len([p for p in before if p.name.startswith("train_seed")]) == 9  # a log per group
    done = reproduce(smoke_study, "stages=[train]")
    assert done.returncode == 0, done.stderr[-3000:]
    assert written() == before  # no run was started again


def test_a_run_without_snapshots_or_curve_is_named_and_one_with_its_curve_is_not(
    smoke_study, tmp_path
):
    run = tmp_path / "runs" / "soccer_twos" / "poca" / "seed0"
    shutil.copytree(smoke_study / "runs" / "soccer_twos" / "poca" / "seed0", run)
    db = tmp_path / "curves.sqlite"
    shutil.copy(smoke_study / "curves.sqlite", db)
    assert study.lost_curves([run], db, "soccer_twos") == []  # snapshots on disk
    shutil.rmtree(run / "policies")  # a new machine: snapshots are not committed
    assert study.lost_curves([run], db, "soccer_twos") == []  # its curve was played
    with sqlite3.connect(db) as conn:
        conn.execute(
            "DELETE FROM matches WHERE player0 LIKE 'poca/seed0@%' OR player1 LIKE 'poca/seed0@%'"
        )
    assert study.lost_curves([run], db, "soccer_twos") == [run]
    assert study.lost_curves([run], tmp_path / "none.sqlite", "soccer_twos") == [run]


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
    count = {
        (env, line): sum(r.parts[:2] == (env, line) for r in runs)
        for env, line in {r.parts[:2] for r in runs}
    }
    assert count.pop(("soccer_twos", "maddpg")) == count.pop(("strikers_vs_goalie", "maddpg")) == 3
    assert set(count.values()) == {8} and len(count) == 3 * 3 - 2
    groups = study.planned_groups(preset, tmp_path)
    assert sorted(
        str(d.relative_to(tmp_path)) + f"/seed{s}" for d, seeds, _ in groups for s in seeds
    ) == sorted(f"runs/{r}" for r in runs)
    finished = tmp_path / "runs" / "soccer_twos" / "maddpg" / "seed3"
    finished.mkdir(parents=True)
    (finished / "eval.json").write_text("{}")  # a seed the preset does not run is not its run
    with pytest.raises(SystemExit, match="no finished soccer_twos runs"):
        study.env_runs(preset, tmp_path, "soccer_twos")


def test_status_counts_finished_and_flying_runs_and_the_training_left(tmp_path, capsys):
    preset = OmegaConf.create(
        {
            "envs": {"tennis": []},
            "lines": {"ippo": [], "poca": []},
            "seeds": [0, 1, 2],
            "line_seeds": {"tennis": {"poca": [0]}},
        }
    )
    cfg = OmegaConf.create({"preset": preset, "jobs": 2})
    finished = study.run_dir(tmp_path, "tennis", "ippo", 0)
    flying = study.run_dir(tmp_path, "tennis", "ippo", 1)
    for d in (finished, flying):
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"total_env_steps": 1000}))
    (finished / "eval.json").write_text(json.dumps({"train_wall_s": 600.0}))
    (flying / "metrics.jsonl").write_text(json.dumps({"env_steps": 250, "wall_s": 100.0}) + "\n")
    study.status_all(cfg, tmp_path)
    out = capsys.readouterr().out
    assert "tennis/ippo: 1/3, in flight 25%, 10.0 min" in out
    assert "tennis/poca: 0/1, in flight -, -" in out
    # ippo: 0.75 of the flying run + 1 waiting, at 600 s each, over 2 jobs; poca unknown.
    assert (
        f"about {600 * 1.75 / 3600 / 2:.1f} h with jobs=2, plus 1 runs of lines not started" in out
    )
