"""The interface every algorithm implements, so runs, evaluation and self-play never care which.

A learner is built from ``(env, cfg, selfplay, total_env_steps)``; all its mutable data lives in
one pytree state, so ``update`` can be scanned inside a jitted chunk (``scan_updates``) and the
whole state checkpointed and restored bit for bit. ``act`` is the deployable *team* policy
(``envs.policy.TeamPolicy``): it takes the observations of one team's agents
``[n, *obs_shape]`` and returns their env actions, which covers shared and per-agent
parameters alike (and MADDPG's per-agent actors). For ONNX export a learner also describes
one member's actor as plain arrays (``actor_arrays``) and what it computes before sampling
(``actor_outputs``), so the exporter only builds a graph.

A learner module defines ``LEARNER = <its class>``; ``algos.make(name, ...)`` finds it as
``algos.<name>.LEARNER``.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import jax
import numpy as np

from algos import play
from algos.selfplay import SelfPlayConfig
from envs import scripted
from envs.base import Mirror, MultiAgentEnv
from envs.policy import Roles, TeamPolicy


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
    """Subclasses call ``super().__init__``, set ``env_steps_per_update`` and implement the
    four methods."""

    env: MultiAgentEnv
    env_steps_per_update: int
    config_class: type  # the frozen dataclass ``conf/algo/<name>.yaml`` fills (no defaults)
    # ML-Agents' trainer_type in a model folder's configuration.yaml (None: the algo's name)
    mlagents_trainer: str | None = None

    def __init__(
        self,
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        selfplay: SelfPlayConfig | Sequence[SelfPlayConfig],
        total_env_steps: int,
        behaviour: int = 0,
    ) -> None:
        """What every learner keeps: the env, its validated config, the behaviour it learns
        (its spaces), how its rollouts are played (``algos.play``: against its ghost, another
        behaviour's, or nobody) and the scripted opponents the league may draw.

        ``selfplay`` is one config, or one per behaviour of an asymmetric game.
        """
        del total_env_steps  # for learners with schedules over the run
        cfgs = (selfplay,) if isinstance(selfplay, SelfPlayConfig) else tuple(selfplay)
        self.env = env
        self.cfg = config_from(self.config_class, cfg, f"algo ({type(self).__name__.lower()})")
        self.selfplay_cfg = cfgs[behaviour] if len(cfgs) > 1 else cfgs[0]
        self.behaviour = env.spec.behaviour_specs[behaviour]
        self.spec = env.spec.for_behaviour(behaviour)  # the game as this learner sees it
        self.space = self.behaviour.action_space
        self.obs_shape = self.behaviour.obs_shape
        self.scripted_ghosts = [scripted.team(env.spec.name, n) for n in self.selfplay_cfg.scripted]
        self.play = play.for_learner(env, behaviour, cfgs, self.scripted_ghosts)
        self.team_size = self.play.team_size

    @abc.abstractmethod
    def init(self, key: jax.Array) -> Any:
        """The whole training state (params, optimiser, live envs, self-play, rng)."""

    @abc.abstractmethod
    def update(self, state: Any) -> tuple[Any, dict[str, jax.Array]]:
        """One iteration: collect against the ghost, learn, advance self-play. Jit-able."""

    @abc.abstractmethod
    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        """Team policy ``(params, obs [n, ...], key) -> env actions [n, ...]``."""

    @abc.abstractmethod
    def policy_params(self, state: Any) -> Any:
        """What ``act`` needs: the params saved as the final policy and used as ghosts."""

    @abc.abstractmethod
    def play_snapshot(
        self, context: Any, params: Any, obs: jax.Array, key: jax.Array, episode_id: jax.Array
    ) -> jax.Array:
        """How a frozen snapshot ``params`` plays as a ghost in a rollout (a
        ``SnapshotPolicy`` once ``context``, from ``ghost_context``, is bound)."""

    def ghost_context(self, state: Any) -> Any:
        """What ``play_snapshot`` reads from the learner's state besides the snapshot."""
        del state
        return None

    @property
    def team_policy(self) -> TeamPolicy | Roles:
        """What plays a team in matches and evaluation: ``act`` for either team."""
        return self.act

    def actor_arrays(self, params: Any, agent: int = 0, sub_policy: int = 0) -> ActorArrays:
        """Team member ``agent``'s actor (ensemble member ``sub_policy``) as arrays."""
        raise TypeError(f"{type(self).__name__} has no ONNX export (no actor_arrays)")

    def actor_outputs(
        self, params: Any, obs: np.ndarray, agent: int = 0, sub_policy: int = 0
    ) -> np.ndarray:
        """What that actor computes for ``obs [batch, D]`` before sampling: branch logits
        ``[batch, branches, width]``, or the continuous action in [-1, 1]. An exported graph
        must reproduce it."""
        raise TypeError(f"{type(self).__name__} has no ONNX export (no actor_outputs)")


def scan_updates(learner: Learner, updates: int) -> Callable[[Any], tuple[Any, Any]]:
    """``updates`` learner updates as one function of the state, ``(state, metrics [updates])``:
    a training chunk, to be jitted."""

    def run(state: Any) -> tuple[Any, Any]:
        return jax.lax.scan(lambda s, _: learner.update(s), state, None, length=updates)

    return run


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
