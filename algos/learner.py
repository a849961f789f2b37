"""What an algorithm is to the rest of the package: a ``Learner`` acts, learns from a batch and
snapshots itself; ``algos.trainer`` arranges who plays whom.

A learner keeps only its own state (networks, optimiser, normaliser, replay): the live envs,
the self-play pools and the rng of a run belong to its trainer, which collects a rollout with
the learner's ``acting`` functions and hands it to ``learn``. So one learner class serves a
symmetric ghost, each behaviour of an asymmetric game and a cooperative team alike: what it
is told of its games is a ``Seating`` (its team's size, the team it faces).

``act`` is the deployable *team* policy (``envs.policy.Policy``): one team's observations
``[n, *obs_shape]`` to their env actions. For ONNX export a learner also describes one
member's actor as plain arrays (``actor_arrays``) and what it computes before sampling
(``actor_outputs``), so the exporter only builds a graph (``Exportable``).

A learner module defines ``LEARNER = <its class>``; ``algos.make(name, ...)`` finds it as
``algos.<name>.LEARNER`` and puts it in a trainer.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

import jax
import numpy as np
from flax import struct

from algos import rollout
from envs.base import ActionSpace, Mirror, MultiAgentEnv
from envs.policy import SnapshotPolicy


@dataclasses.dataclass(frozen=True)
class Seating:
    """What a learner is told of its games: how many agents its team seats, and the size,
    view and action space of the team it faces (its ghost, the other behaviour's team, or
    nobody: ``ghost_size`` 0). A centralised critic reads the other team's records."""

    team_size: int
    ghost_size: int
    ghost_obs_shape: tuple[int, ...]
    ghost_space: ActionSpace


@dataclasses.dataclass(frozen=True)
class Acting:
    """How a learner plays while its trainer collects: ``act`` (env actions, what to learn
    from, extras to store), ``value`` (for the final observation of a time-out) and whether
    the rollout records the other team's observations and actions."""

    act: rollout.LearnerAct
    value: rollout.ValueFn | None = None
    record_ghost: bool = False


@struct.dataclass
class Rollout:
    """What a learner learns from: its team's steps and where the team stood after them."""

    steps: rollout.Step  # [T, E, n, ...]
    last_obs: jax.Array  # [E, n, ...] the team's own view after its last step
    last_active: jax.Array  # [E, n]
    learning_team: jax.Array  # int32: the team it played (its records' side of the pitch)


@dataclasses.dataclass
class ActorArrays:
    """One agent's deployable actor as plain arrays: what an ONNX graph is built from.

    ``output`` names the head: ``"categorical"`` (branch logits, each branch ``logit_width``
    columns wide), ``"gaussian"`` (the mean, with a state-independent ``log_std``) or
    ``"tanh"`` (a deterministic action). A Gaussian's action is ``clamp(a, -c, c) / c`` with
    ``c = action_clamp`` (ML-Agents' export, ``c = 3``), or clipped to [-1, 1] when it is
    ``None``. ``obs_mean`` / ``obs_std`` are the observation
    normaliser when it is on (``obs_clip`` its clip); a ``mirror`` actor averages its logits
    with those of the reflected pass.
    """

    layers: list[tuple[np.ndarray, np.ndarray]]  # torso (kernel [in, out], bias [out])
    head: tuple[np.ndarray, np.ndarray]
    activation: str
    output: str
    obs_mean: np.ndarray | None
    obs_std: np.ndarray | None
    obs_clip: float = 5.0
    log_std: np.ndarray | None = None
    action_clamp: float | None = None
    logit_width: int = 0
    mirror: Mirror | None = None


class Learner(abc.ABC):
    """What a trainer needs of an algorithm: the abstract methods below, and ``num_envs`` and
    ``rollout_len`` in its config (the live envs it learns from and the decisions per env per
    update); all else is the learner's own."""

    config_class: type  # the frozen dataclass ``conf/algo/<name>.yaml`` fills (no defaults)
    # ML-Agents' trainer_type in a model folder's configuration.yaml (None: the algo's name)
    mlagents_trainer: str | None = None
    init_keys = 1  # PRNG keys ``init`` takes

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        seating: Seating,
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        """What every learner keeps: the env, its validated config, the behaviour it learns
        (its spaces) and its seating. ``total_env_steps``: for schedules over the run."""
        del total_env_steps
        self.env = env
        self.cfg = config_from(self.config_class, cfg, f"algo ({type(self).__name__.lower()})")
        self.behaviour = env.spec.behaviour_specs[behaviour]
        self.spec = env.spec.for_behaviour(behaviour)  # the game as this learner sees it
        self.space = self.behaviour.action_space
        self.obs_shape = self.behaviour.obs_shape
        self.seating = seating
        self.team_size = seating.team_size
        self.num_envs, self.rollout_len = int(self.cfg.num_envs), int(self.cfg.rollout_len)

    @property
    def env_steps_per_update(self) -> int:
        return self.num_envs * self.rollout_len

    @abc.abstractmethod
    def init(self, *keys: jax.Array) -> Any:
        """The learner's state (networks, optimiser, ...) from ``init_keys`` keys."""

    @abc.abstractmethod
    def acting(self, state: Any) -> Acting:
        """How the learner plays its team while its trainer collects."""

    @abc.abstractmethod
    def learn(self, state: Any, batch: Rollout, key: jax.Array) -> tuple[Any, dict[str, jax.Array]]:
        """One update from a rollout; ``metrics`` has ``loss`` (a NaN there stops the run)."""

    @abc.abstractmethod
    def policy_params(self, state: Any) -> Any:
        """What ``act`` needs: the params saved as the final policy and used as ghosts."""

    @abc.abstractmethod
    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Team policy ``(params, obs [n, ...], key) -> env actions [n, ...]``."""

    @abc.abstractmethod
    def snapshot_act(
        self, context: Any, params: Any, obs: jax.Array, key: jax.Array, episode_id: jax.Array
    ) -> jax.Array:
        """How a frozen snapshot ``params`` plays as a ghost, ``obs [E, n, ...]`` (a
        ``SnapshotPolicy`` once ``context``, from ``ghost_context``, is bound)."""

    def ghost_context(self, state: Any) -> Any:
        """What ``snapshot_act`` reads from the learner's state besides the snapshot."""
        del state
        return None

    def ghost(self, state: Any) -> SnapshotPolicy:
        """``snapshot_act`` with this state's context: how this learner's snapshots play."""
        return functools.partial(self.snapshot_act, self.ghost_context(state))


@runtime_checkable
class Exportable(Protocol):
    """A learner whose actors ``experiments.export`` can write as ML-Agents ONNX."""

    def actor_arrays(self, params: Any, agent: int = 0, sub_policy: int = 0) -> ActorArrays:
        """Team member ``agent``'s actor (ensemble member ``sub_policy``) as arrays."""
        ...

    def actor_outputs(
        self, params: Any, obs: np.ndarray, agent: int = 0, sub_policy: int = 0
    ) -> np.ndarray:
        """What that actor computes for ``obs [batch, D]`` before sampling: branch logits
        ``[batch, branches, width]``, or the continuous action in [-1, 1]. An exported graph
        must reproduce it."""
        ...


C = TypeVar("C")


def config_from(cls: type[C], values: Mapping[str, Any], where: str) -> C:
    """Build a config dataclass from a mapping; unknown keys name the valid ones, missing
    ones name themselves (the defaults are ``conf/algo/<name>.yaml``'s, ``algos.make``)."""
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ValueError(
            f"unknown key(s) {', '.join(unknown)} in {where}; valid: {', '.join(sorted(valid))}"
        )
    fields = dataclasses.fields(cls)
    no_default = dataclasses.MISSING
    required = {
        f.name for f in fields if no_default is f.default and no_default is f.default_factory
    }
    missing = sorted(required - set(values))
    if missing:
        raise ValueError(
            f"{where} has no value for {', '.join(missing)}: give it in conf/algo/<name>.yaml"
        )
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
