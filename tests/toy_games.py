"""Tiny two-team games with known answers, for testing learners end to end."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from envs.base import Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo


@struct.dataclass
class DuelState:
    steps: jax.Array


@dataclass(frozen=True)
class DominantDuel(MultiAgentEnv):
    """One-shot 1 vs 1 game where action 1 beats action 0 and equal actions draw.

    Discrete: reward ``a_self - a_other`` (+1 win, -1 loss, 0 draw), so "always play 1" is the
    dominant strategy. Continuous: each agent is paid ``-(a - 0.5)^2`` whatever the other
    does, so the optimal mean action is 0.5. The observation is constant.
    """

    continuous: bool = False

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        space = Box(-1.0, 1.0, (1,)) if self.continuous else MultiDiscrete((2,))
        return EnvSpec(
            name="dominant_duel",
            num_agents=2,
            teams=(0, 1),
            agent_names=("left", "right"),
            obs_shape=(3,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=space,
            max_steps=1,
        )

    def reset(self, key: jax.Array):
        return jnp.ones((2, 3)), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        if self.continuous:
            reward = -((actions[:, 0] - 0.5) ** 2)
        else:
            a = actions[:, 0].astype(jnp.float32)
            reward = jnp.stack([a[0] - a[1], a[1] - a[0]])
        obs = jnp.ones((2, 3))
        done = jnp.ones((2,), bool)
        info = StepInfo(
            group_reward=jnp.zeros((2,)),
            terminated=done,
            truncated=jnp.zeros((2,), bool),
            terminal_obs=obs,
        )
        return obs, DuelState(state.steps + 1), reward, done, info
