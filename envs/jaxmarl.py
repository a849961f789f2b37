"""A JaxMARL environment behind our env protocol, so our learners train on it as is.

JaxMARL (``pip install -e ".[bench]"``) keeps dicts keyed by agent name; our protocol keeps
an agent axis. The adapter stacks observations in ``env.agents`` order, splits agents into
teams by name prefix (``ally_0`` / ``enemy_0`` -> teams ``ally`` and ``enemy``), and hands
our ``[A, 1]`` discrete actions back as a dict. What the teams make of it:

- one team (MPE ``simple_spread``): a cooperative task, trained with no ghost;
- two teams of one observation space and size (SMAX ``3m``): symmetric self-play;
- two teams that differ (MPE ``simple_tag``: 3 adversaries vs 1 agent, 16 vs 14 floats;
  ``simple_adversary``): one behaviour per team, named by the prefix, with observations
  padded to the widest (``envs.base.Behaviour``).

Actions are JaxMARL's ``Discrete`` ones (MPE: no-op or a full push along one axis) unless
``continuous=True``: MPE's ``Continuous`` mode, where a push is any force in the square, as
the MPE of Lowe et al. (2017) applied its soft (Gumbel-Softmax) actions. Our ``Box(-1, 1,
(2,))`` force ``(x, y)`` becomes MPE's five action floats ``(0, x-, x+, y-, y+)``, which MPE
decodes back to ``(x, y)``.

It exists so that a training loop written the JaxMARL way and ours can run on the *same* env
in one process (``experiments/bench/vs_jaxmarl.py``), and so that our learners can be checked
against results published on JaxMARL's tasks.

JaxMARL does not tell time-outs from outcomes, so every episode end is ``terminated``
(no bootstrap), as in JaxMARL's own baselines. An agent whose ``done`` turns true before
``__all__`` (a dead SMAX unit) has left the game, which our protocol already models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from envs.base import Behaviour, Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo
from envs.registry import Game


def _team_of(agent: str) -> str:
    return agent.rsplit("_", 1)[0] if "_" in agent else agent


MPE_CONTINUOUS_WIDTH = 5  # MPE's continuous action: no-op, -x, +x, -y, +y (then talk)


def make_jaxmarl(name: str, scenario: str | None = None, continuous: bool = False) -> Any:
    """``jaxmarl.make(name)``; SMAX takes a ``scenario`` map name such as ``3m``; MPE takes
    ``continuous`` (its ``action_type="Continuous"``)."""
    try:
        import jaxmarl
    except ImportError as err:
        raise ImportError(
            'JaxMARL is not installed; install the benchmark extra: pip install -e ".[bench]"'
        ) from err
    if continuous:
        if not name.startswith("MPE_"):
            raise ValueError(f"continuous actions are MPE's mode; {name!r} is not an MPE task")
        return jaxmarl.make(name, action_type="Continuous")
    if scenario is None:
        return jaxmarl.make(name)
    from jaxmarl.environments.smax import map_name_to_scenario

    return jaxmarl.make(name, scenario=map_name_to_scenario(scenario))


@dataclass(frozen=True)
class JaxMARLEnv(MultiAgentEnv):
    """``env_id`` is a JaxMARL env id (``SMAX`` with ``scenario="3m"``, ``coin_game``, ...);
    ``continuous``: MPE's continuous forces instead of its five discrete pushes."""

    env_id: str = "SMAX"
    scenario: str | None = "3m"
    continuous: bool = False
    inner: Any = field(init=False, repr=False, compare=False)
    _widths: tuple[int, ...] = field(init=False, repr=False, compare=False)
    spec: EnvSpec = field(init=False)

    def __post_init__(self) -> None:
        inner = make_jaxmarl(self.env_id, self.scenario, self.continuous)
        agents = tuple(inner.agents)
        team_names = list(dict.fromkeys(_team_of(a) for a in agents))
        teams = tuple(team_names.index(_team_of(a)) for a in agents)
        obs_shapes = {tuple(inner.observation_space(a).shape) for a in agents}
        actions = {
            tuple(inner.action_space(a).shape)
            if self.continuous
            else getattr(inner.action_space(a), "n", None)
            for a in agents
        }
        if len(team_names) > 2:
            raise ValueError(
                f"JaxMARL env {self.env_id!r} has agents {agents}: the adapter takes one or "
                "two teams named <team>_<index>"
            )
        if len(actions) != 1 or None in actions or any(len(s) != 1 for s in obs_shapes):
            raise ValueError(
                f"JaxMARL env {self.env_id!r}: the adapter needs vector observations and one "
                f"Discrete action space for all agents, got {obs_shapes} and {actions}"
            )
        if self.continuous and actions != {(MPE_CONTINUOUS_WIDTH,)}:
            raise ValueError(
                f"JaxMARL env {self.env_id!r}: continuous actions need MPE's movement-only "
                f"action of {MPE_CONTINUOUS_WIDTH} floats, got shapes {actions}"
            )
        space: MultiDiscrete | Box = (
            Box(-1.0, 1.0, (2,)) if self.continuous else MultiDiscrete((int(actions.pop()),))
        )
        first = [agents[teams.index(t)] for t in range(len(team_names))]
        widths = [inner.observation_space(a).shape[0] for a in first]
        sizes = {teams.count(t) for t in range(len(team_names))}
        behaviours: tuple[Behaviour, ...] = ()
        if len(team_names) == 2 and (len(sizes) != 1 or len(obs_shapes) != 1):
            behaviours = tuple(
                Behaviour(name, (width,), space)
                for name, width in zip(team_names, widths, strict=True)
            )
        elif len(obs_shapes) != 1:
            raise ValueError(
                f"JaxMARL env {self.env_id!r}: one team observes {sorted(obs_shapes)}; the "
                "adapter needs one observation shape per team"
            )
        box = inner.observation_space(agents[0])
        object.__setattr__(
            self, "_widths", tuple(inner.observation_space(a).shape[0] for a in agents)
        )
        object.__setattr__(self, "inner", inner)
        object.__setattr__(
            self,
            "spec",
            EnvSpec(
                name=f"jaxmarl_{self.env_id}" + (f"_{self.scenario}" if self.scenario else ""),
                num_agents=len(agents),
                teams=teams,
                agent_names=agents,
                obs_shape=(max(widths),),
                obs_low=float(jnp.min(jnp.asarray(getattr(box, "low", -jnp.inf)))),
                obs_high=float(jnp.max(jnp.asarray(getattr(box, "high", jnp.inf)))),
                action_space=space,
                max_steps=int(getattr(inner, "max_steps", 0) or 0),
                behaviours=behaviours,
                team_behaviour=tuple(range(len(team_names))) if behaviours else (),
            ),
        )

    def _stack(self, per_agent: dict[str, jax.Array], dtype: Any = jnp.float32) -> jax.Array:
        return jnp.stack([jnp.asarray(per_agent[a], dtype) for a in self.spec.agent_names])

    def _stack_obs(self, obs: dict[str, jax.Array]) -> jax.Array:
        """Observations ``[A, widest]``, each row zero-padded past its agent's own floats."""
        width = self.spec.obs_shape[0]
        rows = [
            jnp.pad(jnp.asarray(obs[a], jnp.float32), (0, width - w))
            for a, w in zip(self.spec.agent_names, self._widths, strict=True)
        ]
        return jnp.stack(rows)

    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        obs, state = self.inner.reset(key)
        return self._stack_obs(obs), state

    def step_env(
        self, key: jax.Array, state: Any, actions: jax.Array
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, StepInfo]:
        if self.continuous:
            push = jnp.clip(actions, -1.0, 1.0)  # [A, 2]: the force along x and y
            zero = jnp.zeros_like(push[:, :1])
            halves = jnp.stack([jnp.maximum(-push, 0.0), jnp.maximum(push, 0.0)], axis=-1)
            mpe = jnp.concatenate([zero, halves.reshape(-1, 4)], axis=1)  # 0, x-, x+, y-, y+
            act = {a: mpe[i] for i, a in enumerate(self.spec.agent_names)}
        else:
            act = {a: actions[i, 0] for i, a in enumerate(self.spec.agent_names)}
        obs, state, reward, dones, _ = self.inner.step_env(key, state, act)
        obs = self._stack_obs(obs)
        done = self._stack(dones, bool) | dones["__all__"]
        return (
            obs,
            state,
            self._stack(reward),
            done,
            StepInfo(
                group_reward=jnp.zeros(self.spec.num_agents),
                terminated=done,
                truncated=jnp.zeros(self.spec.num_agents, bool),
                terminal_obs=obs,
            ),
        )


GAME = Game(name="jaxmarl", env=JaxMARLEnv, adapter=True)  # needs the `bench` extra
