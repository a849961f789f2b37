"""How a learner's rollouts are played, one object per case, so learners never ask which:

- ``Symmetric``: both teams play the learner's behaviour; the learning team faces its own
  ghost (``algos.selfplay``), and the teams swap seats on a team change.
- ``Asymmetric``: each team plays its own behaviour with its own learner (ML-Agents: one
  GhostTrainer per behaviour); this learner's team faces the *other* behaviour's ghost, and
  the self-play state it sees while it learns is a ``Pairing`` of both behaviours' states
  (``algos.asymmetric`` builds it and splits it again).
- ``Concurrent``: an asymmetric game in which every behaviour learns every update (Lowe et
  al. 2017's mixed tasks: predators and prey trained together); this learner's team faces
  the other behaviour's *current* policy, so there is no pool, swap or team change.
- ``Cooperative``: one team and no opponent: the same rollout, learners and logs, no ghost.

``Learner.__init__`` picks the case from the env's spec and self-play config
(``for_learner``). Each case offers ``init``, ``collect``, ``learning_agents``,
``learning_team``, ``advance`` and ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos import rollout, selfplay
from algos.selfplay import SelfPlayConfig, SelfPlayState
from envs.base import ActionSpace, MultiAgentEnv
from envs.policy import SnapshotPolicy, TeamPolicy


class Symmetric:
    """ML-Agents' ghost trainer for a game whose teams play one behaviour."""

    def __init__(
        self, env: MultiAgentEnv, cfg: SelfPlayConfig, scripted: Sequence[TeamPolicy]
    ) -> None:
        self.env, self.cfg, self.scripted = env, cfg, list(scripted)
        table = rollout.team_table(env.spec)
        self.team_size = self.ghost_size = int(table.shape[1])
        self.ghost_obs_shape = env.spec.obs_shape
        self.ghost_space: ActionSpace = env.spec.action_space

    def init(self, snapshot: Any) -> SelfPlayState:
        return selfplay.init(snapshot, self.cfg)

    def learning_team(self, sp: SelfPlayState) -> jax.Array:
        return sp.learning_team

    def learning_agents(self, sp: SelfPlayState) -> jax.Array:
        return rollout.symmetric_seats(self.env.spec, sp.learning_team).learners

    def collect(
        self,
        runner: rollout.EnvRunner,
        sp: SelfPlayState,
        key: jax.Array,
        num_steps: int,
        learner_act: rollout.LearnerAct,
        network_act: SnapshotPolicy,
        value_fn: rollout.ValueFn | None = None,
        record_ghost: bool = False,
    ) -> tuple[rollout.EnvRunner, rollout.Step, rollout.Episodes, SelfPlayState]:
        return selfplay.collect_vs_ghost(
            self.env,
            runner,
            sp,
            key,
            num_steps,
            self.cfg,
            learner_act,
            network_act,
            self.scripted,
            value_fn,
            record_ghost,
        )

    def advance(
        self, sp: SelfPlayState, snapshot: Any, key: jax.Array, env_steps: int
    ) -> SelfPlayState:
        agent_steps = jnp.asarray(env_steps * self.team_size, jnp.int32)
        return selfplay.advance(sp, snapshot, key, agent_steps, agent_steps, self.cfg)

    def metrics(self, sp: SelfPlayState, episodes: rollout.Episodes) -> dict[str, jax.Array]:
        return selfplay.metrics(sp, episodes)


@struct.dataclass
class Pairing:
    """What a behaviour's learner sees of self-play while it learns: its own state, the other
    behaviour's, and what the other's ghost plays with (its current weights, which it may draw
    as "latest", and ``context``, its ``Learner.ghost_context``)."""

    own: SelfPlayState
    other: SelfPlayState
    other_current: Any
    other_context: Any


class Asymmetric:
    """One behaviour's seat in a two-team game whose teams play different behaviours.

    ``other`` (the opposing behaviour's learner) is bound by ``algos.asymmetric`` once both
    learners exist; its ghost is played with ``other.play_snapshot``.
    """

    def __init__(
        self,
        env: MultiAgentEnv,
        behaviour: int,
        cfg: SelfPlayConfig,
        other_cfg: SelfPlayConfig,
    ) -> None:
        spec = env.spec
        if spec.num_teams != 2:
            raise ValueError(f"asymmetric self-play needs two teams, got teams {spec.teams}")
        for c in (cfg, other_cfg):
            if c.scripted_ratio > 0.0:
                raise ValueError(
                    f"{spec.name}: scripted ghosts (selfplay.scripted_ratio) are not supported "
                    "in an asymmetric game; set env.selfplay.scripted_ratio=0"
                )
        (team,) = spec.behaviour_teams(behaviour)
        self.env, self.behaviour, self.team = env, behaviour, team
        self.cfg, self.other_cfg = cfg, other_cfg
        other = spec.behaviour_specs[spec.behaviour_of(1 - team)]
        own = spec.behaviour_specs[behaviour]
        self.seats = rollout.Seats(
            np.asarray(spec.team_agents(team), np.int32),
            np.asarray(spec.team_agents(1 - team), np.int32),
            own.obs_shape[0],
            other.obs_shape[0],
        )
        self.team_size, self.ghost_size = len(self.seats.learners), len(self.seats.ghosts)
        self.ghost_obs_shape, self.ghost_space = other.obs_shape, other.action_space
        self.other: Any = None  # the other behaviour's Learner, bound by algos.asymmetric

    def init(self, snapshot: Any) -> SelfPlayState:
        return selfplay.init(snapshot, self.cfg)

    def learning_team(self, pair: Pairing) -> jax.Array:
        return pair.own.learning_team

    def learning_agents(self, pair: Pairing) -> np.ndarray:
        return self.seats.learners

    def opponent(self, pair: Pairing) -> Any:
        """The params the other team plays with: the other behaviour's ghost."""
        return pair.other.ghost

    def collect(
        self,
        runner: rollout.EnvRunner,
        pair: Pairing,
        key: jax.Array,
        num_steps: int,
        learner_act: rollout.LearnerAct,
        network_act: SnapshotPolicy,
        value_fn: rollout.ValueFn | None = None,
        record_ghost: bool = False,
    ) -> tuple[rollout.EnvRunner, rollout.Step, rollout.Episodes, Pairing]:
        del network_act  # this behaviour's own ghost waits while it learns
        opponent = self.opponent(pair)

        def ghost_act(obs: jax.Array, k: jax.Array, episode_id: jax.Array) -> jax.Array:
            return self.other.play_snapshot(pair.other_context, opponent, obs, k, episode_id)

        runner, steps, episodes = rollout.collect(
            self.env,
            runner,
            key,
            num_steps,
            self.seats,
            learner_act,
            ghost_act,
            value_fn,
            record_ghost,
        )
        finished = jnp.broadcast_to(
            (episodes.ended & episodes.terminated)[..., None], episodes.final_reward.shape
        )
        own, other = selfplay.record_games_between(
            pair.own, pair.other, rollout.game_result(episodes), finished, self.cfg.elo_k
        )
        return runner, steps, episodes, pair.replace(own=own, other=other)

    def advance(self, pair: Pairing, snapshot: Any, key: jax.Array, env_steps: int) -> Pairing:
        own, other = selfplay.advance_asymmetric(
            pair.own,
            pair.other,
            snapshot,
            pair.other_current,
            key,
            jnp.asarray(env_steps * self.team_size, jnp.int32),
            jnp.asarray(env_steps * self.ghost_size, jnp.int32),
            self.cfg,
            self.other_cfg,
        )
        return pair.replace(own=own, other=other)

    def metrics(self, pair: Pairing, episodes: rollout.Episodes) -> dict[str, jax.Array]:
        """Episode means and the learning team; ``ghost_index`` is the slot of the *other*
        behaviour's pool that played (``algos.asymmetric`` adds each behaviour's ELO)."""
        return {
            **rollout.episode_metrics(episodes),
            "ghost_index": pair.other.ghost_index,
            "learning_team": pair.own.learning_team,
        }


class Concurrent(Asymmetric):
    """One behaviour's seat when every behaviour learns at once (``selfplay.concurrent``).

    Lowe et al. (2017) train predators and prey, or deceivers and adversaries, together: each
    update of each behaviour plays against the other behaviour's current policy (ML-Agents has
    no such mode; its ghost trainer lets one team learn at a time). So the pool, swaps, saves
    and team changes are off, the learning team is always this behaviour's own, and a game
    moves both behaviours' current ratings (the other's ``ghost_index`` is ``window``, the slot
    of its current rating).
    """

    def __init__(
        self, env: MultiAgentEnv, behaviour: int, cfg: SelfPlayConfig, other_cfg: SelfPlayConfig
    ) -> None:
        if not (cfg.concurrent and other_cfg.concurrent):
            raise ValueError(
                f"{env.spec.name}: set env.selfplay.concurrent for every behaviour or for none "
                "(each behaviour learns at once, or they take turns)"
            )
        super().__init__(env, behaviour, cfg, other_cfg)

    def init(self, snapshot: Any) -> SelfPlayState:
        (team,) = self.env.spec.behaviour_teams(self.behaviour)
        sp = selfplay.init(snapshot, self.cfg)
        return sp.replace(
            ghost_index=jnp.asarray(self.cfg.window, jnp.int32),
            learning_team=jnp.asarray(team, jnp.int32),
        )

    def opponent(self, pair: Pairing) -> Any:
        """The other behaviour's current weights: it learns beside this one."""
        return pair.other_current

    def advance(self, pair: Pairing, snapshot: Any, key: jax.Array, env_steps: int) -> Pairing:
        """Only this behaviour's agent-steps are counted: nothing is saved or swapped."""
        del snapshot, key
        steps = jnp.asarray(env_steps * self.team_size, jnp.int32)
        return pair.replace(own=pair.own.replace(learner_steps=pair.own.learner_steps + steps))


@struct.dataclass
class Alone:
    """A cooperative learner's self-play state: only its agent-step count."""

    learner_steps: jax.Array


class Cooperative:
    """A one-team task: every agent learns, nobody is a ghost."""

    def __init__(self, env: MultiAgentEnv) -> None:
        spec = env.spec
        if spec.num_teams != 1:
            raise ValueError(f"a cooperative task has one team, got teams {spec.teams}")
        width = spec.obs_shape[0]
        self.env = env
        self.seats = rollout.Seats(
            np.arange(spec.num_agents, dtype=np.int32), np.zeros(0, np.int32), width, width
        )
        self.team_size, self.ghost_size = spec.num_agents, 0
        self.ghost_obs_shape, self.ghost_space = spec.obs_shape, spec.action_space

    def init(self, snapshot: Any) -> Alone:
        del snapshot  # no pool: nobody plays a past self
        return Alone(learner_steps=jnp.zeros((), jnp.int32))

    def learning_team(self, sp: Alone) -> jax.Array:
        return jnp.zeros((), jnp.int32)

    def learning_agents(self, sp: Alone) -> np.ndarray:
        return self.seats.learners

    def collect(
        self,
        runner: rollout.EnvRunner,
        sp: Alone,
        key: jax.Array,
        num_steps: int,
        learner_act: rollout.LearnerAct,
        network_act: SnapshotPolicy,
        value_fn: rollout.ValueFn | None = None,
        record_ghost: bool = False,
    ) -> tuple[rollout.EnvRunner, rollout.Step, rollout.Episodes, Alone]:
        del network_act
        runner, steps, episodes = rollout.collect(
            self.env, runner, key, num_steps, self.seats, learner_act, None, value_fn, record_ghost
        )
        return runner, steps, episodes, sp

    def advance(self, sp: Alone, snapshot: Any, key: jax.Array, env_steps: int) -> Alone:
        del snapshot, key
        return sp.replace(learner_steps=sp.learner_steps + env_steps * self.team_size)

    def metrics(self, sp: Alone, episodes: rollout.Episodes) -> dict[str, jax.Array]:
        means = rollout.episode_metrics(episodes)
        return {
            k: v for k, v in means.items() if k not in ("win_rate", "loss_rate", "decided_games")
        }


Play = Symmetric | Asymmetric | Concurrent | Cooperative


def for_learner(
    env: MultiAgentEnv,
    behaviour: int,
    cfgs: Sequence[SelfPlayConfig],
    scripted: Sequence[TeamPolicy],
) -> Play:
    """The case ``env``'s spec declares: one team, one behaviour for two teams, or one
    behaviour per team (``cfgs[b]``: behaviour ``b``'s self-play settings)."""
    spec = env.spec
    if spec.num_teams == 1:
        return Cooperative(env)
    if not spec.asymmetric:
        if cfgs[0].concurrent:
            raise ValueError(
                f"{spec.name}: env.selfplay.concurrent needs teams with their own behaviours; "
                "both teams here play one behaviour (a symmetric game), so set it to false"
            )
        return Symmetric(env, cfgs[0], scripted)
    other = spec.behaviour_of(1 - spec.behaviour_teams(behaviour)[0])
    case = Concurrent if cfgs[behaviour].concurrent or cfgs[other].concurrent else Asymmetric
    return case(env, behaviour, cfgs[behaviour], cfgs[other])
