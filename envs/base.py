"""The one environment protocol every game implements.

Functional and JAX-native (gymnax / JaxMARL style): an env object holds only static metadata
and constants; all mutable data lives in a ``flax.struct`` state that is passed in and out of
pure ``reset`` / ``step`` functions, so both can be ``jit``-ed, ``vmap``-ed and ``scan``-ned.

Every array carries the agent axis first. ``step`` returns ``(obs, state, reward, done, info)``
and auto-resets: when an episode ends, ``obs`` is already the first observation of the next
episode and the last observation of the finished one is kept in ``info.terminal_obs``.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@dataclass(frozen=True)
class MultiDiscrete:
    """Several independent categorical action branches (Unity's discrete branches)."""

    branches: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.branches),)

    def sample(self, key: jax.Array, batch: tuple[int, ...] = ()) -> jax.Array:
        """Uniform random actions of shape ``batch + (num_branches,)``, dtype int32."""
        keys = jax.random.split(key, len(self.branches))
        cols = [
            jax.random.randint(k, batch, 0, n) for k, n in zip(keys, self.branches, strict=True)
        ]
        return jnp.stack(cols, axis=-1).astype(jnp.int32)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.all((x >= 0) & (x < jnp.asarray(self.branches)))


@dataclass(frozen=True)
class Box:
    """A continuous action box; actions outside it are clipped by the env."""

    low: float
    high: float
    shape: tuple[int, ...]

    def sample(self, key: jax.Array, batch: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.uniform(key, batch + self.shape, minval=self.low, maxval=self.high)

    def contains(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.all((x >= self.low) & (x <= self.high))


ActionSpace = MultiDiscrete | Box


@dataclass(frozen=True)
class Mirror:
    """A left-right reflection the game is symmetric under (same dynamics, same rewards).

    ``obs[..., obs_index]`` is what an agent sees in the mirrored scene, and value ``a`` of
    discrete branch ``b`` becomes ``action_index[b][a]``. Both are involutions. A policy made
    equivariant to it (``mirror_symmetric`` in the PPO family) learns each situation once for
    both sides, which is half the function to fit.
    """

    obs_index: tuple[int, ...]
    action_index: tuple[tuple[int, ...], ...]

    def action_table(self, width: int) -> np.ndarray:
        """``action_index`` as ``[branches, width]``, padded with identity for logit heads that
        pad every branch to the widest."""
        return np.asarray([[*i, *range(len(i), width)] for i in self.action_index])


@dataclass(frozen=True)
class Behaviour:
    """One policy's view of a game (ML-Agents' behaviour): its observation and action space.

    A symmetric game has one behaviour that every team plays; an asymmetric one (Strikers vs
    Goalie) has one per role. The env's observations are padded to the widest behaviour's:
    a behaviour's own observation is the leading ``obs_shape[0]`` floats of each of its
    agents' rows, and its actions the leading entries of the env's action array.
    """

    name: str
    obs_shape: tuple[int, ...]
    action_space: ActionSpace
    sensors: tuple[tuple[str, int], ...] = ()  # as EnvSpec.sensors, for this behaviour
    mirror: Mirror | None = None


@dataclass(frozen=True)
class EnvSpec:
    """Static facts about a game that algorithms, self-play and analysis size themselves by.

    ``obs_shape`` and ``action_space`` are the env's arrays per agent; for an asymmetric game
    (``behaviours`` given) they are the widest behaviour's, and ``team_behaviour`` names the
    behaviour each team plays.
    """

    name: str
    num_agents: int
    teams: tuple[int, ...]  # team id of each agent, in the env's fixed agent order
    agent_names: tuple[str, ...]
    obs_shape: tuple[int, ...]  # per agent
    obs_low: float
    obs_high: float
    action_space: ActionSpace  # per agent
    max_steps: int  # decisions per episode before truncation
    # Unity's observation tensors, in the order Unity sorts them: (sensor name, floats), summing
    # to obs_shape; () for one vector. ONNX export makes one input per sensor, as ML-Agents does.
    sensors: tuple[tuple[str, int], ...] = ()
    mirror: Mirror | None = None  # a left-right symmetry of the game, if it has one
    behaviours: tuple[Behaviour, ...] = ()  # () : one behaviour, this spec's own spaces
    team_behaviour: tuple[int, ...] = ()  # index into ``behaviours`` per team; () : all 0

    def __post_init__(self) -> None:
        if self.behaviours and len(self.team_behaviour) != self.num_teams:
            raise ValueError(
                f"{self.name}: team_behaviour needs one behaviour per team "
                f"({self.num_teams}), got {self.team_behaviour}"
            )
        for b in self.behaviours:
            if len(b.obs_shape) != 1 or b.obs_shape[0] > self.obs_shape[0]:
                raise ValueError(
                    f"{self.name}: behaviour {b.name} observes {b.obs_shape}; behaviours "
                    f"observe a leading slice of the env's {self.obs_shape} vector"
                )

    @property
    def num_teams(self) -> int:
        return len(set(self.teams))

    def team_agents(self, team: int) -> tuple[int, ...]:
        """Indices of the agents of ``team`` on the agent axis."""
        return tuple(i for i, t in enumerate(self.teams) if t == team)

    @property
    def behaviour_specs(self) -> tuple[Behaviour, ...]:
        """Every behaviour of the game; a symmetric game's one is the spec's own spaces."""
        if self.behaviours:
            return self.behaviours
        return (Behaviour(self.name, self.obs_shape, self.action_space, self.sensors, self.mirror),)

    def behaviour_of(self, team: int) -> int:
        """The index in ``behaviour_specs`` of the behaviour ``team`` plays."""
        return self.team_behaviour[team] if self.behaviours else 0

    def behaviour_teams(self, behaviour: int) -> tuple[int, ...]:
        """The teams that play ``behaviour``, in team order."""
        return tuple(t for t in range(self.num_teams) if self.behaviour_of(t) == behaviour)

    def for_behaviour(self, behaviour: int) -> EnvSpec:
        """This spec as one behaviour sees the game: its observation and action spaces and
        sensors (what its ONNX file takes and gives); the same spec in a symmetric game."""
        if not self.behaviours:
            return self
        b = self.behaviours[behaviour]
        return dataclasses.replace(
            self,
            obs_shape=b.obs_shape,
            action_space=b.action_space,
            sensors=b.sensors,
            mirror=b.mirror,
            behaviours=(),
            team_behaviour=(),
        )

    @property
    def asymmetric(self) -> bool:
        """Teams play different behaviours (one learner and one self-play pool each)."""
        return len(self.behaviour_specs) > 1


@struct.dataclass
class StepInfo:
    """What ``step`` reports besides obs, the individual reward and done.

    ``group_reward`` is the reward of the agent's team this step, broadcast per agent (what
    MA-POCA learns from); ``reward`` is each agent's individual reward. ``terminated`` means the
    rules ended the episode (goal, fault); ``truncated`` means the time limit did, which is not
    an outcome and must be bootstrapped through.
    """

    group_reward: jax.Array  # [A] float32
    terminated: jax.Array  # [A] bool
    truncated: jax.Array  # [A] bool
    terminal_obs: jax.Array  # [A, *obs_shape]; equals obs unless the episode just ended


class MultiAgentEnv(abc.ABC):
    """Base class: subclasses implement ``reset`` and ``step_env``; ``step`` auto-resets.

    Rollouts, matches and benchmarks run a batch of envs through ``reset_batch`` /
    ``step_batch``. For the JAX games ``reset_batch`` is ``vmap(reset)`` and ``step_batch``
    gives exactly ``vmap(step)``'s outputs (same keys) but resets only the envs whose episode
    ended (``reset_ended``) instead of building a reset state every step; a host-side
    env (``envs.unity``) overrides them with one callback per decision for the whole batch,
    and fixes the batch size with ``num_envs``.
    """

    spec: EnvSpec
    num_envs: int | None = None  # a host env's fixed batch (Unity areas); None: any batch size

    @abc.abstractmethod
    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        """Start an episode: ``(obs [A, *obs_shape], state)``."""

    @abc.abstractmethod
    def step_env(
        self, key: jax.Array, state: Any, actions: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, StepInfo]:
        """One decision without auto-reset; ``info.terminal_obs`` may be left as ``obs``."""

    def step(
        self, key: jax.Array, state: Any, actions: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, StepInfo]:
        """One decision: ``(obs, state, reward [A], done [A], info)``, resetting on episode end.

        ``done[i]`` may turn true for one agent before the others (it left the game: sent
        off, absorbed); it stays true until the episode ends, when every agent is done. Its
        observations and actions in between are meaningless and learners mask them out.
        """
        key_step, key_reset = jax.random.split(key)
        obs, state, reward, done, info = self.step_env(key_step, state, actions)
        reset_obs, reset_state = self.reset(key_reset)
        episode_over = jnp.all(done)  # agents may leave early; the episode ends with the last
        state = jax.tree.map(lambda r, s: jnp.where(episode_over, r, s), reset_state, state)
        next_obs = jnp.where(episode_over, reset_obs, obs)
        return next_obs, state, reward, done, info.replace(terminal_obs=obs)

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release what the env holds outside JAX (a Unity process); the JAX games hold none."""

    def reset_batch(self, keys: jax.Array) -> tuple[jax.Array, Any]:
        """``reset`` for a batch: ``keys [N, 2]`` -> ``(obs [N, A, ...], state [N, ...])``."""
        return jax.vmap(self.reset)(keys)

    def step_batch(
        self, keys: jax.Array, state: Any, actions: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, StepInfo]:
        """``step`` for a batch: every input and output has a leading ``[N]`` axis.

        The same results as ``vmap(step)`` for the same keys, but the reset that auto-reset
        needs is computed only for the envs whose episode ended (``reset_ended``), not for
        every env on every step: under ``vmap`` a per-env ``where`` evaluates both sides, which
        cast SoccerTwos' rays twice per step.
        """
        split = jax.vmap(jax.random.split)(keys)  # the same (step, reset) keys ``step`` uses
        obs, state, reward, done, info = jax.vmap(self.step_env)(split[:, 0], state, actions)
        info = info.replace(terminal_obs=obs)
        obs, state = reset_ended(self.reset, split[:, 1], jnp.all(done, axis=1), obs, state)
        return obs, state, reward, done, info


def reset_slots(num_envs: int) -> int:
    """Envs ``reset_ended`` resets per pass: a sixteenth of the batch (at least one).

    Episodes last tens to a thousand decisions, so a step ends a few envs of a large batch; a
    wave of simultaneous ends (time-outs of envs that started together) takes more passes.
    """
    return max(1, num_envs // 16)


def reset_ended(
    reset: Any, keys: jax.Array, ended: jax.Array, obs: jax.Array, state: Any
) -> tuple[jax.Array, Any]:
    """Replace ``obs [N, ...]`` and ``state`` of the envs where ``ended [N]`` by ``reset(keys[i])``.

    The ended envs are gathered ``reset_slots(N)`` at a time and reset in a ``while_loop``
    that runs as many passes as needed (none on a step where no episode ended), so the reset
    work follows the number of ended episodes instead of the batch size.
    """
    num_envs = ended.shape[0]
    slots = reset_slots(num_envs)

    def pending(carry: tuple[jax.Array, jax.Array, Any]) -> jax.Array:
        return jnp.any(carry[0])

    def reset_some(carry: tuple[jax.Array, jax.Array, Any]) -> tuple[jax.Array, jax.Array, Any]:
        todo, obs, state = carry
        idx = jnp.nonzero(todo, size=slots, fill_value=num_envs)[0]  # fill: out of range
        new_obs, new_state = jax.vmap(reset)(keys[jnp.minimum(idx, num_envs - 1)])

        def put(old: jax.Array, new: jax.Array) -> jax.Array:
            return old.at[idx].set(new.astype(old.dtype), mode="drop")

        return (
            put(todo, jnp.zeros(slots, bool)),
            put(obs, new_obs),
            jax.tree.map(put, state, new_state),
        )

    _, obs, state = jax.lax.while_loop(pending, reset_some, (ended, obs, state))
    return obs, state


def winner(side_reward: jax.Array) -> jax.Array:
    """Who won a game that the rules ended: the side (last axis) whose reward on the game's
    last step (individual + group) is highest, or -1 for a tie. The one rule matches, ELO and
    evaluation share.

    ML-Agents' ghost trainer reads the sign of the learner's last reward; comparing the sides
    agrees with it in zero-sum games such as SoccerTwos (+x against -1) and still gives a
    result in v0.4 Tennis, where only the side at fault is penalised (-0.01 against 0), so
    the sign rule would score every game a draw or a loss. A game cut by the time limit is
    not decided; callers leave it out.
    """
    best = jnp.argmax(side_reward, axis=-1)
    tie = jnp.sum(side_reward == jnp.max(side_reward, -1, keepdims=True), -1) > 1
    return jnp.where(tie, -1, best)


def pad_actions(actions: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """A behaviour's actions ``[..., n, *own]`` zero-padded to the env's ``[..., n, *shape]``
    (an asymmetric game's behaviours may act in smaller spaces than the env's array)."""
    lead = actions.ndim - len(shape)
    if actions.shape[lead:] == tuple(shape):
        return actions
    own = actions.shape[lead:]
    return jnp.pad(actions, [(0, 0)] * lead + [(0, f - o) for f, o in zip(shape, own, strict=True)])


def stack_frame(stack: jax.Array, frame: jax.Array) -> jax.Array:
    """Push ``frame`` into a ``[..., n_stack, frame_size]`` buffer, oldest first (Unity order)."""
    return jnp.concatenate([stack[..., 1:, :], frame[..., None, :]], axis=-2)
