"""The checkpoint learning curve: the right policy per checkpoint, resumable, clear errors."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

from analysis.formats import run_identity
from experiments.core import curves as curve
from experiments.core import training
from experiments.core.build import build_offline
from experiments.core.checkpoint import SNAPSHOTS, Checkpointer, load_policy, snapshots
from experiments.core.evaluation import head_to_head
from experiments.core.players import load_run, side
from tests.tiny import config, tiny


@pytest.fixture(scope="module")
def tennis_run(tmp_path_factory):
    """A tiny Tennis run with checkpoints at chunks 2 and 4 and a policy snapshot after every
    chunk (Tennis rallies end fast, so even a few decisions give decided games)."""
    run_dir = tmp_path_factory.mktemp("run")
    overrides = (
        *tiny("ippo"),
        "env=tennis",
        "eval.decisions=40",
        "eval.opponents=[random]",
        "checkpoint.policy_every=1",
    )
    summary = training.train(config(*overrides), run_dir)
    return run_dir, summary


def test_last_checkpoint_reproduces_the_final_evaluation(tennis_run):
    run_dir, summary = tennis_run
    rows = curve.checkpoint_curve(run_dir, ["random"])
    assert [(r["chunk"], r["env_steps"]) for r in rows] == [(1, 64), (2, 128), (3, 192), (4, 256)]
    assert [r["wall_s"] for r in rows] == sorted(r["wall_s"] for r in rows)
    final = summary["vs_random"]
    assert final["wins"] + final["losses"] > 0, "the check needs decided games"
    # The last snapshot holds the final policy and the curve uses eval's key: same games.
    for k in ("wins", "draws", "losses"):
        assert rows[-1][k] == final[k]


def test_a_snapshot_is_the_policy_its_checkpoint_holds(tennis_run):
    """Snapshots outlive the checkpoints (``checkpoint.keep``) and hold the same policy."""
    run_dir, _ = tennis_run
    config = curve.run_config(run_dir)
    _, trainer = build_offline(config, run_dir)
    template = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    checkpointer = Checkpointer(run_dir / "checkpoints", keep=None)
    assert checkpointer.steps() == [2, 4] and sorted(snapshots(run_dir)) == [1, 2, 3, 4]
    for step in (2, 4):
        state, meta = checkpointer.restore(template, run_identity(config), step)
        saved = load_policy(run_dir / SNAPSHOTS / str(step), trainer.policy_params(template))
        assert snapshots(run_dir)[step]["env_steps"] == meta["env_steps"]
        same = jax.tree.map(np.array_equal, saved, trainer.policy_params(state))
        assert all(jax.tree.leaves(same))
    checkpointer.close()


def test_rerun_evaluates_only_what_is_missing(tennis_run, tmp_path):
    src, _ = tennis_run
    run_dir = tmp_path / "copy"
    shutil.copytree(src, run_dir)
    shutil.rmtree(run_dir / "final")  # a killed run: checkpoints and config.json only
    shutil.rmtree(run_dir / SNAPSHOTS)  # and a run without snapshots
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
    assert [(r["chunk"], r["opponent"]) for r in rows] == [(k, opponent) for k in (1, 2, 3, 4)]
    env, trainer, params = load_run(src)
    other = side(env.spec.name, opponent)
    seed = int(curve.run_config(src)["seed"])
    key = curve.opponent_key(
        jax.random.PRNGKey(seed + 1), opponent, ["random"], ["random", "tracker"]
    )
    direct = head_to_head(env, trainer.team_policy, params, other.policy, other.params, 2, 40, key)
    assert {k: rows[-1][k] for k in ("wins", "draws", "losses")} == {
        k: direct[k] for k in ("wins", "draws", "losses")
    }
    with pytest.raises(ValueError, match=r"unknown opponent 'nowhere'.*valid: \['random'"):
        curve.checkpoint_curve(run_dir, ["nowhere"])
