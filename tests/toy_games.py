"""Tiny two-team games with known answers, for testing learners end to end."""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
from flax import struct

from envs.base import Behaviour, Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo


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


@struct.dataclass
class SacrificeState:
    t: jax.Array
    left: jax.Array  # [4] bool: the agent has left the game


@dataclass(frozen=True)
class Sacrifice(MultiAgentEnv):
    """Two-step cooperative game where credit must reach an agent that has already left.

    Two independent teams of two (``[a, b]`` each). At t = 0 agent ``a`` may leave (action 1):
    it is done at once and earns nothing itself. At t = 1 the team is paid: 1 if ``a`` left and
    ``b`` plays 1, 0 if ``a`` left and ``b`` plays 0, and 0.3 if ``a`` stayed. Leaving is the
    team's best move, but only an algorithm that credits ``a`` with the reward paid after it
    left (MA-POCA's posthumous credit) can learn it; independent learners see 0 vs 0.3.
    """

    stay_reward: float = 0.3

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        return EnvSpec(
            name="sacrifice",
            num_agents=4,
            teams=(0, 0, 1, 1),
            agent_names=("a0", "b0", "a1", "b1"),
            obs_shape=(4,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=MultiDiscrete((2,)),
            max_steps=2,
        )

    def _obs(self, t: jax.Array, left: jax.Array) -> jax.Array:
        """[t == 0, t == 1, is a, is b]; zeros for agents that have left."""
        role = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
        time = jnp.broadcast_to(jax.nn.one_hot(t, 2), (4, 2))
        return jnp.where(left[:, None], 0.0, jnp.concatenate([time, role], axis=-1))

    def reset(self, key: jax.Array):
        state = SacrificeState(jnp.zeros((), jnp.int32), jnp.zeros((4,), bool))
        return self._obs(state.t, state.left), state

    def step_env(self, key, state, actions):
        act = actions[:, 0]
        is_a = jnp.array([True, False, True, False])
        first = state.t == 0
        left = jnp.where(first, is_a & (act == 1), state.left)
        a_left = left[jnp.array([0, 0, 2, 2])]
        b_act = act[jnp.array([1, 1, 3, 3])]
        team_pay = jnp.where(a_left, (b_act == 1).astype(jnp.float32), self.stay_reward)
        group_reward = jnp.where(first, 0.0, team_pay)
        done = jnp.where(first, left, True)
        t = state.t + 1
        obs = self._obs(jnp.minimum(t, 1), left)
        info = StepInfo(
            group_reward=group_reward,
            terminated=done,
            truncated=jnp.zeros((4,), bool),
            terminal_obs=obs,
        )
        return obs, SacrificeState(t, left), jnp.zeros((4,)), done, info


@dataclass(frozen=True)
class SplitTheTarget(MultiAgentEnv):
    """One-shot continuous cooperative game for teams of two with a unique joint optimum.

    Two independent teams of two. Each team is paid ``-(a0 + a1 - 0.6)^2 - (a0 - a1 - 0.4)^2``
    as a group reward: the best joint action is ``a0 = 0.5, a1 = 0.1``, and what is best for
    one agent depends on what its teammate plays. Observations are the slot one-hot.
    """

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        return EnvSpec(
            name="split_the_target",
            num_agents=4,
            teams=(0, 0, 1, 1),
            agent_names=("a0", "a1", "b0", "b1"),
            obs_shape=(2,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=Box(-1.0, 1.0, (1,)),
            max_steps=1,
        )

    def _obs(self) -> jax.Array:
        return jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])

    def reset(self, key: jax.Array):
        return self._obs(), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        a = actions[:, 0].reshape(2, 2)
        pay = -((a[:, 0] + a[:, 1] - 0.6) ** 2) - (a[:, 0] - a[:, 1] - 0.4) ** 2
        done = jnp.ones((4,), bool)
        info = StepInfo(
            group_reward=jnp.repeat(pay, 2),
            terminated=done,
            truncated=jnp.zeros((4,), bool),
            terminal_obs=self._obs(),
        )
        return self._obs(), DuelState(state.steps + 1), jnp.zeros((4,)), done, info


@dataclass(frozen=True)
class HeavyObservation(MultiAgentEnv):
    """A 1 vs 1 random walk whose observation costs ``work`` chained 64 x 64 matmuls.

    For checking that a benchmark times the observations: the heavier they are, the more work
    the compiled benchmark must contain, unless the benchmark lets XLA delete them.
    """

    work: int = 0

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        return EnvSpec(
            name="heavy_observation",
            num_agents=2,
            teams=(0, 1),
            agent_names=("left", "right"),
            obs_shape=(64,),
            obs_low=-1.0,
            obs_high=1.0,
            action_space=MultiDiscrete((2,)),
            max_steps=5,
        )

    def _obs(self, position: jax.Array) -> jax.Array:
        x = jnp.tile(jnp.sin(position + jnp.arange(64.0)), (2, 1))
        mix = jnp.cos(jnp.arange(64.0)[:, None] * jnp.arange(64.0)) / 8.0
        for _ in range(self.work):
            x = jnp.tanh(x @ mix)
        return x

    def reset(self, key: jax.Array):
        position = jax.random.normal(key)
        return self._obs(position), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        steps = state.steps + 1
        obs = self._obs(steps.astype(jnp.float32) + actions[:, 0].sum())
        done = jnp.full((2,), steps >= self.spec.max_steps)
        info = StepInfo(
            group_reward=jnp.zeros((2,)),
            terminated=jnp.zeros((2,), bool),
            truncated=done,
            terminal_obs=obs,
        )
        return obs, DuelState(steps), jnp.zeros((2,)), done, info


@dataclass(frozen=True)
class Shootout(MultiAgentEnv):
    """One-shot asymmetric game, 2 shooters (team 0) vs 1 keeper (team 1), each role with a
    dominant action in its own spaces.

    Shooters see their slot one-hot (2 floats) and pick a lane (one branch of 3); the keeper
    sees 4 constant floats and picks a dive and a stance (two branches of 2). Group reward,
    zero-sum: ``shooters = g - 0.5 d - 0.25 [s == 0]``, keeper the negative, with ``g`` the
    fraction of shooters who picked lane 2, ``d`` the dive and ``s`` the stance. So shooters
    should always shoot lane 2 and the keeper always dive with stance 0, whatever the other
    side does; with both optimal the shooters win (0.25 > 0).
    """

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        return EnvSpec(
            name="shootout",
            num_agents=3,
            teams=(0, 0, 1),
            agent_names=("shooter_0", "shooter_1", "keeper"),
            obs_shape=(4,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=MultiDiscrete((3, 2)),
            max_steps=1,
            behaviours=(
                Behaviour("Shooter", (2,), MultiDiscrete((3,))),
                Behaviour("Keeper", (4,), MultiDiscrete((2, 2))),
            ),
            team_behaviour=(0, 1),
        )

    def _obs(self) -> jax.Array:
        return jnp.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])

    def reset(self, key: jax.Array):
        return self._obs(), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        goals = jnp.mean((actions[:2, 0] == 2).astype(jnp.float32))
        dive, stance = actions[2, 0].astype(jnp.float32), actions[2, 1]
        shooters = goals - 0.5 * dive - 0.25 * (stance == 0)
        done = jnp.ones((3,), bool)
        info = StepInfo(
            group_reward=jnp.stack([shooters, shooters, -shooters]),
            terminated=done,
            truncated=jnp.zeros((3,), bool),
            terminal_obs=self._obs(),
        )
        return self._obs(), DuelState(state.steps + 1), jnp.zeros((3,)), done, info


@dataclass(frozen=True)
class Handshake(MultiAgentEnv):
    """One-shot cooperative task for one team of two, no opponent: the team is paid 1 when
    slot 0 plays 1 and slot 1 plays 0, else 0; each agent sees its slot one-hot."""

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        return EnvSpec(
            name="handshake",
            num_agents=2,
            teams=(0, 0),
            agent_names=("a", "b"),
            obs_shape=(2,),
            obs_low=0.0,
            obs_high=1.0,
            action_space=MultiDiscrete((2,)),
            max_steps=1,
        )

    def reset(self, key: jax.Array):
        return jnp.eye(2), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        paid = ((actions[0, 0] == 1) & (actions[1, 0] == 0)).astype(jnp.float32)
        done = jnp.ones((2,), bool)
        info = StepInfo(
            group_reward=jnp.full((2,), paid),
            terminated=done,
            truncated=jnp.zeros((2,), bool),
            terminal_obs=jnp.eye(2),
        )
        return jnp.eye(2), DuelState(state.steps + 1), jnp.zeros((2,)), done, info


@dataclass(frozen=True)
class Stalemate(MultiAgentEnv):
    """A 1 vs 1 game that is never decided: every episode runs to the time limit (4
    decisions) with zero reward, whatever is played; what a stalled self-play run sees.
    Three actions; the observation is constant."""

    @property
    def spec(self) -> EnvSpec:  # type: ignore[override]
        duel = DominantDuel().spec
        return replace(duel, name="stalemate", action_space=MultiDiscrete((3,)), max_steps=4)

    def reset(self, key: jax.Array):
        return jnp.ones((2, 3)), DuelState(jnp.zeros((), jnp.int32))

    def step_env(self, key, state, actions):
        steps = state.steps + 1
        over = jnp.full((2,), steps >= self.spec.max_steps)
        info = StepInfo(
            group_reward=jnp.zeros((2,)),
            terminated=jnp.zeros((2,), bool),
            truncated=over,
            terminal_obs=jnp.ones((2, 3)),
        )
        return jnp.ones((2, 3)), DuelState(steps), jnp.zeros((2,)), over, info
