"""README's "Extending" recipes, as a user would follow them: a new algorithm is one module
in ``algos/`` plus ``conf/algo/<name>.yaml``; a new game is one module in ``envs/`` plus
``conf/env/<name>.yaml``. Both are written into a throw-away copy of the repo and trained
through the CLI there, touching no other file. The algorithm is REINFORCE written from
``algos.learner.Learner`` alone (no PPO code), so the test also says how small that contract
is: its trainer plays it in a symmetric game and, per role, in StrikersVsGoalie."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from analysis.formats import read_metrics

ROOT = Path(__file__).resolve().parents[1]

NEW_ALGO = '''"""REINFORCE (Williams 1992): Monte Carlo policy gradient, mean return as baseline."""

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from algos.learner import Acting, Learner, Rollout
from algos.networks import Actor, env_action


@dataclass(frozen=True)
class ReinforceConfig:
    num_envs: int
    rollout_len: int
    hidden: tuple[int, ...]
    learning_rate: float
    gamma: float


@struct.dataclass
class ReinforceState:
    actor: Any
    opt_state: Any


class Reinforce(Learner):
    config_class = ReinforceConfig

    def __init__(self, env, cfg, seating, total_env_steps, behaviour=0):
        super().__init__(env, cfg, seating, total_env_steps, behaviour)
        self.actor = Actor(self.space, self.cfg.hidden, "tanh")
        self.tx = optax.adam(self.cfg.learning_rate)

    def init(self, key):
        actor = self.actor.init(key, jnp.zeros((1, *self.obs_shape)))
        return ReinforceState(actor, self.tx.init(actor))

    def policy_params(self, state):
        return state.actor

    def _sample(self, actor, obs, key):
        action = self.actor.apply(actor, obs).sample(key)
        return env_action(self.space, action, "clip"), action

    def act(self, params, obs, key):
        return self._sample(params, obs, key)[0]

    def snapshot_act(self, context, params, obs, key, episode_id):
        return self._sample(params, obs, key)[0]

    def acting(self, state):
        def act(obs, key, episode_id):
            return (*self._sample(state.actor, obs, key), None)

        return Acting(act)

    def learn(self, state, batch: Rollout, key):
        steps = batch.steps
        reward = steps.reward + steps.group_reward

        def back(ret, x):
            ret = x[0] + self.cfg.gamma * (1.0 - x[1]) * ret
            return ret, ret

        done = steps.done.astype(jnp.float32)
        _, returns = jax.lax.scan(back, jnp.zeros_like(reward[0]), (reward, done), reverse=True)
        weight = steps.active.astype(jnp.float32)
        count = jnp.maximum(weight.sum(), 1.0)
        advantage = returns - jnp.sum(returns * weight) / count

        def loss_fn(actor):
            log_prob = self.actor.apply(actor, steps.obs).log_prob(steps.action)
            return -jnp.sum(log_prob * advantage * weight) / count

        loss, grads = jax.value_and_grad(loss_fn)(state.actor)
        updates, opt_state = self.tx.update(grads, state.opt_state)
        actor = optax.apply_updates(state.actor, updates)
        return state.replace(actor=actor, opt_state=opt_state), {"loss": loss}


LEARNER = Reinforce
'''

NEW_ALGO_YAML = """name: reinforce
num_envs: 16
rollout_len: 8
hidden: [16]
learning_rate: 0.05
gamma: 0.99
"""

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

NEW_GAME_YAML = """defaults:
  - /selfplay@selfplay: mlagents
  - _self_

name: coin_duel
options: {}
scripted: [tails]
total_env_steps: 256
eval_decisions: 10
selfplay:
  save_steps: 64
  team_change: 128
  swap_steps: 32
  window: 4
"""


def run_cli(repo: Path, run_dir: Path, *overrides: str) -> None:
    cmd = [sys.executable, "-m", "experiments.run", *overrides, f"hydra.run.dir={run_dir}"]
    done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_new_algorithm_and_a_new_game_train_through_the_cli(tmp_path):
    repo = tmp_path / "repo"
    skip = shutil.ignore_patterns(
        *(".git", ".venv", ".pytest_cache", ".hypothesis", ".ruff_cache", ".benchmarks"),
        *("outputs", "multirun", "results", "paper", "wandb", "__pycache__", "*.egg-info"),
    )
    shutil.copytree(ROOT, repo, ignore=skip)
    (repo / "algos" / "reinforce.py").write_text(NEW_ALGO)
    (repo / "conf" / "algo" / "reinforce.yaml").write_text(NEW_ALGO_YAML)
    (repo / "envs" / "coin_duel.py").write_text(NEW_GAME)
    (repo / "conf" / "env" / "coin_duel.yaml").write_text(NEW_GAME_YAML)
    quiet = ["logging.wandb=false", "logging.progress=false", "checkpoint.every_chunks=2"]

    # The new algorithm on the new game: heads beats tails whatever the other side plays,
    # and self-play finds it (16 updates of 128 one-shot games).
    coin = tmp_path / "coin"
    run_cli(repo, coin, "algo=reinforce", "env=coin_duel", "total_env_steps=2048",
            "chunk_env_steps=512", "eval.games=64", *quiet)  # fmt: skip
    config = json.loads((coin / "config.json").read_text())
    assert (config["algo"]["name"], config["env"]["name"]) == ("reinforce", "coin_duel")
    assert [r["env_steps"] for r in read_metrics(coin)] == [512, 1024, 1536, 2048]
    summary = json.loads((coin / "eval.json").read_text())
    assert summary["env"] == "coin_duel"
    assert summary["vs_tails"]["wins"] >= 0.9 * summary["vs_tails"]["games"]

    # The same module learns each role of an asymmetric game: a learner per behaviour.
    roles = tmp_path / "roles"
    run_cli(repo, roles, "algo=reinforce", "env=strikers_vs_goalie", "algo.num_envs=4",
            "chunk_env_steps=64", "total_env_steps=128", "eval.games=2", "eval.decisions=20",
            "eval.opponents=[random]", *quiet)  # fmt: skip
    rows = read_metrics(roles)
    assert [r["env_steps"] for r in rows] == [64, 128]
    assert {"elo_Striker", "elo_Goalie"} <= set(rows[-1])
    assert (roles / "final").is_dir() and (roles / "eval.json").is_file()
