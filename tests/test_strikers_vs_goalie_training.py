"""StrikersVsGoalie through the whole stack: training with one learner per behaviour,
evaluation in both roles, ONNX export per behaviour, and ML-Agents' two-file models as a
player."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import onnx
import pytest

import envs
from experiments.core.evaluation import head_to_head, scripted_opponent
from experiments.core.onnx_import import UnsupportedModel, load_model
from experiments.core.players import load_player
from tests import mlagents_graphs as mg
from tests.tiny import tiny

ROOT = Path(__file__).resolve().parents[1]


def test_ml_agents_striker_and_goalie_models_play_their_roles(tmp_path):
    folder = mg.strikers_vs_goalie_folder(tmp_path / "mlagents-StrikersVsGoalie")
    env, player = load_player(folder)  # the game comes from the behaviours the folder holds
    assert env.spec.name == "strikers_vs_goalie" and player.algo == "mlagents-poca"
    out = head_to_head(
        env,
        player.policy,
        player.params,
        scripted_opponent(env, "random"),
        [None, None],
        4,
        60,
        jax.random.PRNGKey(0),
    )
    assert set(out) >= {"as_Striker", "as_Goalie"}
    assert out["as_Goalie"]["wins"] == 0  # only the strikers can score
    # Each file must fit its own behaviour: a striker file is refused as the goalie.
    spec = env.spec
    with pytest.raises(UnsupportedModel, match="738"):
        load_model(folder / "Striker.onnx", spec.for_behaviour(1))
    (folder / "Goalie.onnx").unlink()
    with pytest.raises(ValueError, match="missing Goalie"):
        load_player(folder, "strikers_vs_goalie")


def test_a_run_logs_both_behaviours_is_evaluated_in_both_roles_and_exports_both(tmp_path):
    """One tiny run through the CLI (one test, so that xdist's two workers never both train
    it): both behaviours' metrics and evaluations, then one ML-Agents file per behaviour."""
    svg_run = tmp_path / "run"
    cmd = [sys.executable, "-m", "experiments.run", "env=strikers_vs_goalie", *tiny("poca")]
    cmd += [f"hydra.run.dir={svg_run}"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (svg_run / "metrics.jsonl").read_text().splitlines()]
    assert {"elo_Striker", "elo_Goalie", "learning_behaviour"} <= set(rows[-1])
    summary = json.loads((svg_run / "eval.json").read_text())
    roles = summary["vs_random"]  # tiny's one opponent; each opponent is played in both roles
    assert roles["as_Striker"]["games"] + roles["as_Goalie"]["games"] == roles["games"]

    from experiments import export

    out = tmp_path / "export"
    export.main([str(svg_run), "--out", str(out), "--check", "32"])
    striker, goalie = onnx.load(out / "Striker.onnx"), onnx.load(out / "Goalie.onnx")

    def sizes(model):
        return [(i.name, i.type.tensor_type.shape.dim[1].dim_value) for i in model.graph.input]

    assert sizes(striker) == [("obs_0", 231), ("obs_1", 63), ("action_masks", 9)]
    assert sizes(goalie) == [("obs_0", 738), ("action_masks", 9)]
    # Ours load back as ML-Agents' would: a folder of the two files is a player of the game.
    env, player = load_player(out)
    assert env.spec.name == "strikers_vs_goalie" and player.kind == "onnx"
    obs, _ = env.reset(jax.random.PRNGKey(0))
    spec = env.spec
    for team, policy in enumerate(player.policy.policies):
        members = np.asarray(spec.team_agents(team))
        actions = policy(
            player.params[player.policy.param_index[team]], obs[members], jax.random.PRNGKey(1)
        )
        assert actions.shape == (len(members), 3)
    assert envs.make("strikers_vs_goalie").spec.asymmetric
