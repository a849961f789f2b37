"""The checkpoint learning curve: the right policy per checkpoint, resumable, clear errors."""

from __future__ import annotations

import json
import shutil

import jax
import pytest

from experiments.core import curves as curve
from experiments.core import training
from experiments.core.evaluation import head_to_head
from experiments.core.players import load_run, side
from tests.tiny import config, tiny


@pytest.fixture(scope="module")
def tennis_run(tmp_path_factory):
    """A tiny Tennis run with checkpoints at chunks 2 and 4 (Tennis rallies end fast, so even
    a few decisions give decided games)."""
    run_dir = tmp_path_factory.mktemp("run")
    overrides = (*tiny("ippo"), "env=tennis", "eval.decisions=40", "eval.opponents=[random]")
    summary = training.train(config(*overrides), run_dir)
    return run_dir, summary


def test_last_checkpoint_reproduces_the_final_evaluation(tennis_run):
    run_dir, summary = tennis_run
    rows = curve.checkpoint_curve(run_dir, ["random"])
    assert [(r["chunk"], r["env_steps"]) for r in rows] == [(2, 128), (4, 256)]
    assert rows[0]["wall_s"] <= rows[1]["wall_s"]
    final = summary["vs_random"]
    assert final["wins"] + final["losses"] > 0, "the check needs decided games"
    # The last checkpoint holds the final policy and the curve uses eval's key: same games.
    for k in ("wins", "draws", "losses"):
        assert rows[1][k] == final[k]


def test_rerun_evaluates_only_what_is_missing(tennis_run, tmp_path):
    src, _ = tennis_run
    run_dir = tmp_path / "copy"
    shutil.copytree(src, run_dir)
    shutil.rmtree(run_dir / "final")  # a killed run: checkpoints and config.json only
    (run_dir / curve.CURVE_FILE).unlink(missing_ok=True)
    first = curve.checkpoint_curve(run_dir, ["random", "tracker"], games=2, decisions=40)
    assert len(first) == 4
    lines = (run_dir / curve.CURVE_FILE).read_text().splitlines()
    # Killed while writing the last row: a torn line, which the rerun replaces.
    (run_dir / curve.CURVE_FILE).write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    again = curve.checkpoint_curve(run_dir, ["random", "tracker"], games=2, decisions=40)
    assert again == first  # one key per opponent: the same games again
    assert curve.read_curve(run_dir) == first  # the torn line replaced, not followed
    assert json.loads(lines[-1]) == again[-1]
    # Other settings are other rows, not a reuse of these.
    assert len(curve.checkpoint_curve(run_dir, ["random"], games=2, decisions=20)) == 6


def test_bad_input_says_what_is_valid(tennis_run, tmp_path):
    run_dir, _ = tennis_run
    with pytest.raises(ValueError, match="valid: \\['random', 'tracker'\\]"):
        curve.checkpoint_curve(run_dir, ["chaser"])
    with pytest.raises(ValueError, match="valid"):
        curve.checkpoint_curve(run_dir, [])
    with pytest.raises(FileNotFoundError, match="config"):
        (tmp_path / "checkpoints").mkdir()
        curve.checkpoint_curve(tmp_path, ["random"])


def test_a_run_directory_is_an_opponent(tennis_run, tmp_path):
    """Any player the evaluator loads (here the run's own final policy) is a curve opponent,
    played over both sides with a fixed key per name."""
    src, _ = tennis_run
    run_dir = tmp_path / "copy"
    shutil.copytree(src, run_dir)
    (run_dir / curve.CURVE_FILE).unlink(missing_ok=True)
    opponent = str(src)
    rows = curve.checkpoint_curve(run_dir, [opponent], games=2, decisions=40)
    assert [(r["chunk"], r["opponent"]) for r in rows] == [(2, opponent), (4, opponent)]
    env, trainer, params = load_run(src)
    other = side(env.spec.name, opponent)
    seed = int(curve.run_config(src)["seed"])
    key = curve.opponent_key(
        jax.random.PRNGKey(seed + 1), opponent, ["random"], ["random", "tracker"]
    )
    direct = head_to_head(env, trainer.team_policy, params, other.policy, other.params, 2, 40, key)
    assert {k: rows[1][k] for k in ("wins", "draws", "losses")} == {
        k: direct[k] for k in ("wins", "draws", "losses")
    }
    with pytest.raises(ValueError, match=r"unknown opponent 'nowhere'.*valid: \['random'"):
        curve.checkpoint_curve(run_dir, ["nowhere"])
