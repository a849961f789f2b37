"""README's "Extending" recipes, as a user would follow them: a new algorithm is one module
in ``algos/`` plus ``conf/algo/<name>.yaml``; a new game is one module in ``envs/`` plus
``conf/env/<name>.yaml``. Both are written into a throw-away copy of the repo and trained
through the CLI there, touching no other file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from analysis.formats import read_metrics
from tests.tiny import tiny

ROOT = Path(__file__).resolve().parents[1]

NEW_GAME = '''"""Coin duel: a one-shot 1 vs 1 game where heads (1) beats tails (0)."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from envs.base import EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo
from envs.registry import Game


@dataclass(frozen=True)
class CoinDuel(MultiAgentEnv):
    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(
            name="coin_duel", num_agents=2, teams=(0, 1), agent_names=("left", "right"),
            obs_shape=(3,), obs_low=0.0, obs_high=1.0, action_space=MultiDiscrete((2,)),
            max_steps=1,
        )

    def reset(self, key):
        return jnp.ones((2, 3)), jnp.zeros((), jnp.int32)

    def step_env(self, key, state, actions):
        a = actions[:, 0].astype(jnp.float32)
        reward = jnp.stack([a[0] - a[1], a[1] - a[0]])
        done = jnp.ones((2,), bool)
        info = StepInfo(jnp.zeros((2,)), done, jnp.zeros((2,), bool), jnp.ones((2, 3)))
        return jnp.ones((2, 3)), state + 1, reward, done, info


def tails(params, obs, key):
    return jnp.zeros((1,), jnp.int32)


GAME = Game(name="coin_duel", env=CoinDuel, scripted={"tails": tails})
'''

NEW_GAME_YAML = """name: coin_duel
options: {}
scripted: [tails]
total_env_steps: 256
eval_decisions: 10
selfplay:
  save_steps: 64
  team_change: 128
  swap_steps: 32
  window: 4
  play_against_latest_model_ratio: 0.5
  initial_elo: 1200.0
  elo_k: 1.0
  scripted: []
  scripted_ratio: 0.0
"""


def test_a_new_algorithm_and_a_new_game_train_through_the_cli(tmp_path):
    repo = tmp_path / "repo"
    skip = shutil.ignore_patterns(
        *(".git", ".venv", ".pytest_cache", ".hypothesis", ".ruff_cache", ".benchmarks"),
        *("outputs", "multirun", "results", "paper", "wandb", "__pycache__", "*.egg-info"),
    )
    shutil.copytree(ROOT, repo, ignore=skip)
    source = (repo / "algos" / "ippo.py").read_text()
    assert "class IPPO(PPO):" in source and "LEARNER = IPPO" in source
    copy = source.replace("class IPPO(PPO):", "class TwinPPO(PPO):")
    (repo / "algos" / "twin_ppo.py").write_text(copy.replace("LEARNER = IPPO", "LEARNER = TwinPPO"))
    yaml = (repo / "conf" / "algo" / "ippo.yaml").read_text()
    (repo / "conf" / "algo" / "twin_ppo.yaml").write_text(
        yaml.replace("name: ippo", "name: twin_ppo")
    )
    (repo / "envs" / "coin_duel.py").write_text(NEW_GAME)
    (repo / "conf" / "env" / "coin_duel.yaml").write_text(NEW_GAME_YAML)

    run_dir = tmp_path / "run"
    overrides = [o for o in tiny("ippo") if not o.startswith(("algo=", "eval.opponents"))]
    cmd = [sys.executable, "-m", "experiments.run", "algo=twin_ppo", "env=coin_duel", *overrides]
    done = subprocess.run(
        [*cmd, f"hydra.run.dir={run_dir}"], cwd=repo, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["algo"]["name"], config["env"]["name"]) == ("twin_ppo", "coin_duel")
    assert [r["env_steps"] for r in read_metrics(run_dir)] == [64, 128, 192, 256]
    summary = json.loads((run_dir / "eval.json").read_text())
    assert summary["env"] == "coin_duel"
    result = summary["vs_tails"]
    assert result["wins"] + result["draws"] + result["losses"] == result["games"] > 0
