"""One learner per behaviour for games whose teams play different roles (Strikers vs Goalie).

ML-Agents trains an asymmetric game with one GhostTrainer per behaviour under one
GhostController: only one team learns at a time; the other plays a ghost drawn from *its
own* behaviour's snapshot pool; the learning team rotates every ``team_change`` of the
learning behaviour's own agent-steps; each behaviour swaps its ghost after its own
``swap_steps`` of ghost agent-steps; and each keeps its own ELO, moved by games against the
other behaviour's ghost. ``Asymmetric`` is that controller around any algorithm: it builds
the algorithm once per behaviour (``Learner(..., behaviour=b)``, whose rollouts are seated by
``algos.play.Asymmetric``) and runs, per update, the update of the behaviour whose team
learns (``lax.switch`` on the traced learning team, so a team change needs no recompiling).

The live envs are shared; each behaviour's state keeps its own networks, optimiser and
self-play pool. While behaviour ``b`` learns, its learner sees a ``play.Pairing`` of both
behaviours' self-play states and hands it back updated.

With ``selfplay.concurrent`` (Lowe et al. 2017's mixed tasks) every behaviour learns in every
update instead, one after the other, each from its own rollout against the others' current
policies (``algos.play.Concurrent``); its metrics are logged as ``<metric>_<behaviour>``.
Each behaviour then keeps its own live envs: interleaved on shared envs, a behaviour's
consecutive steps would be two env steps apart, and an off-policy learner's one-step targets
(MADDPG's replay of consecutive pairs) would skip the other's steps and rewards.
Each behaviour may override the algorithm's settings (``algo.behaviours.<name>``), e.g. a
DDPG team (MADDPG with ``critic: local``) against a MADDPG team.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from algos import play, rollout
from algos.learner import ActorArrays, Learner
from algos.selfplay import SelfPlayConfig
from envs.base import MultiAgentEnv
from envs.policy import Roles, own_view_policy


@struct.dataclass
class AsymmetricState:
    behaviours: tuple[Any, ...]  # each behaviour learner's state, without live envs
    runner: rollout.EnvRunner | None  # the live envs, shared (None: each keeps its own)


class Asymmetric(Learner):
    """``learner_class`` once per behaviour of ``env``, trained as ML-Agents' ghost trainer
    trains an asymmetric game; ``policy_params`` and ``act`` come per behaviour."""

    def __init__(
        self,
        learner_class: type[Learner],
        env: MultiAgentEnv,
        cfg: Mapping[str, Any],
        selfplay: Sequence[SelfPlayConfig],
        total_env_steps: int,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``overrides``: per behaviour name, algorithm settings over ``cfg`` for its learner."""
        spec = env.spec
        names = [b.name for b in spec.behaviour_specs]
        if len(selfplay) != len(names):
            raise ValueError(
                f"{spec.name} has behaviours {names}: "
                f"give one self-play config each, got {len(selfplay)}"
            )
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(
                f"algo.behaviours names {', '.join(unknown)}; {spec.name} has behaviours "
                f"{', '.join(names)}"
            )
        self.env = env
        self.concurrent = selfplay[0].concurrent
        cfgs = [{**cfg, **overrides.get(n, {})} for n in names]

        def build(totals: Sequence[int]) -> list[Learner]:
            return [
                learner_class(env, c, selfplay, total, behaviour=b)
                for b, (c, total) in enumerate(zip(cfgs, totals, strict=True))
            ]

        self.learners = build([total_env_steps] * len(names))
        steps = [learner.env_steps_per_update for learner in self.learners]
        if self.concurrent:
            # every behaviour learns in every update: each gets its share of the run's steps,
            # so schedules over the run (``anneal_lr``) end where the run ends
            self.learners = build([total_env_steps * s // sum(steps) for s in steps])
        elif len(set(steps)) > 1:
            raise ValueError(
                f"the behaviours take turns on shared envs, so they must collect as many env "
                f"steps per update; got {dict(zip(names, steps, strict=True))} (num_envs × "
                "rollout_len): give algo.behaviours the same values"
            )
        envs = {getattr(learner.cfg, "num_envs", None) for learner in self.learners}
        if len(envs) > 1 and not self.concurrent:
            raise ValueError(
                f"the behaviours share one set of live envs; algo.behaviours gives num_envs "
                f"{sorted(envs)}: give every behaviour the same"
            )
        first = self.learners[0]
        self.cfg, self.config_class = first.cfg, first.config_class
        self.mlagents_trainer = first.mlagents_trainer
        self.env_steps_per_update = sum(steps) if self.concurrent else steps[0]
        self.team_behaviour = tuple(spec.behaviour_of(t) for t in range(spec.num_teams))
        for b, learner in enumerate(self.learners):
            (team,) = spec.behaviour_teams(b)
            learner.play.other = self.learners[self.team_behaviour[1 - team]]

    @property
    def behaviour_names(self) -> list[str]:
        return [learner.behaviour.name for learner in self.learners]

    def init(self, key: jax.Array) -> AsymmetricState:
        states = [
            learner.init(k)
            for learner, k in zip(
                self.learners, jax.random.split(key, len(self.learners)), strict=True
            )
        ]
        if self.concurrent:
            return AsymmetricState(behaviours=tuple(states), runner=None)
        runner = states[0].runner
        return AsymmetricState(
            behaviours=tuple(s.replace(runner=None) for s in states), runner=runner
        )

    def _learning_team(self, state: AsymmetricState) -> jax.Array:
        return state.behaviours[0].selfplay.learning_team

    def _update_as(self, behaviour: int, state: AsymmetricState):
        """One update of ``behaviour`` (its team learns) against the other's ghost."""
        learner = self.learners[behaviour]
        (team,) = self.env.spec.behaviour_teams(behaviour)
        other = self.team_behaviour[1 - team]
        states = list(state.behaviours)
        pair = play.Pairing(
            own=states[behaviour].selfplay,
            other=states[other].selfplay,
            other_current=self.learners[other].policy_params(states[other]),
            other_context=self.learners[other].ghost_context(states[other]),
        )
        shared = state.runner is not None
        runner = state.runner if shared else states[behaviour].runner
        mine, metrics = learner.update(states[behaviour].replace(runner=runner, selfplay=pair))
        pair = mine.selfplay
        states[behaviour] = mine.replace(runner=None if shared else mine.runner, selfplay=pair.own)
        states[other] = states[other].replace(selfplay=pair.other)
        metrics = {
            **metrics,
            "learning_behaviour": jnp.asarray(behaviour, jnp.int32),
            **{
                f"elo_{lrn.behaviour.name}": s.selfplay.elos[-1]
                for lrn, s in zip(self.learners, states, strict=True)
            },
        }
        return AsymmetricState(
            behaviours=tuple(states), runner=mine.runner if shared else None
        ), metrics

    def update(self, state: AsymmetricState) -> tuple[AsymmetricState, dict[str, jax.Array]]:
        if self.concurrent:
            return self._update_all(state)
        branches = [
            lambda s, b=self.team_behaviour[t]: self._update_as(b, s)
            for t in range(len(self.team_behaviour))
        ]
        return jax.lax.switch(self._learning_team(state), branches, state)

    def _update_all(self, state: AsymmetricState) -> tuple[AsymmetricState, dict[str, jax.Array]]:
        """Every behaviour's update in turn; ``loss`` sums theirs, so a NaN in any is caught."""
        metrics: dict[str, jax.Array] = {}
        for b, learner in enumerate(self.learners):
            state, mine = self._update_as(b, state)
            name = learner.behaviour.name
            metrics |= {
                f"{k}_{name}": v
                for k, v in mine.items()
                if not k.startswith("elo_") and k != "learning_behaviour"
            }
            metrics["loss"] = metrics.get("loss", 0.0) + mine["loss"]
        ratings = {k: v for k, v in mine.items() if k.startswith("elo_")}
        return state, {**metrics, **ratings}

    def policy_params(self, state: AsymmetricState) -> tuple[Any, ...]:
        return tuple(
            learner.policy_params(s)
            for learner, s in zip(self.learners, state.behaviours, strict=True)
        )

    @property
    def team_policy(self) -> Roles:
        """Each team's behaviour policy, reading its own slice of the padded observations."""
        return Roles(
            tuple(
                own_view_policy(self.learners[b].act, self.learners[b].obs_shape[0])
                for b in self.team_behaviour
            ),
            self.team_behaviour,
        )

    def act(self, params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        raise TypeError(
            f"{self.env.spec.name} is asymmetric: play a team with team_policy "
            "(one policy per behaviour), not act"
        )

    def play_snapshot(self, context, params, obs, key, episode_id) -> jax.Array:
        raise TypeError("an asymmetric learner's ghosts are played by its behaviours' learners")

    def behaviour_learner(self, name: str) -> Learner:
        """The learner of behaviour ``name``; an unknown name lists the valid ones."""
        for learner in self.learners:
            if learner.behaviour.name == name:
                return learner
        raise ValueError(f"unknown behaviour {name!r}; valid: {', '.join(self.behaviour_names)}")

    def actor_arrays(self, params: Any, agent: int = 0, sub_policy: int = 0) -> ActorArrays:
        raise TypeError("export each behaviour with its own learner (behaviour_learner)")
