"""Who plays whom: a trainer owns a run's live envs, self-play states and rng, and in each update
collects a rollout with a learner's ``acting`` functions, has the learner ``learn`` from it and
advances self-play. One class per case:

- ``GhostTrainer``: both teams play one behaviour; the learning team faces its own ghost and
  the teams swap seats on a team change (ML-Agents' GhostTrainer, ``algos.selfplay``).
- ``TurnTrainer``: each team plays its own behaviour with its own learner; one team learns at
  a time against the other behaviour's ghost (ML-Agents: one GhostTrainer per behaviour under
  one GhostController), a ``lax.switch`` on the traced learning team picks whose update runs.
- ``ConcurrentTrainer``: every behaviour learns in every update, each against the other's
  *current* policy (Lowe et al. 2017's mixed tasks; ML-Agents has no such mode).
- ``CooperativeTrainer``: one team and nobody to face.

Per-behaviour learners are the general case (BenchMARL's groups): ``learners[b]`` and the
``TrainState``'s ``learners[b]``, ``selfplay[b]`` and ``keys[b]``; a symmetric game has one
behaviour. ``build`` picks the case from the env's spec and the self-play config
(``algos.make``). Every update of behaviour ``b`` splits its key as ``(key, roll, swap,
learn)``.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from algos import rollout, selfplay
from algos.learner import Learner, Rollout, Seating
from algos.selfplay import SelfPlayConfig, SelfPlayState
from envs.base import MultiAgentEnv
from envs.policy import Policy, Roles, own_view_policy


@struct.dataclass
class TrainState:
    """A run's whole state: what a checkpoint holds and a resume restores bit for bit."""

    learners: tuple[Any, ...]  # each behaviour's learner state
    selfplay: tuple[Any, ...]  # each behaviour's SelfPlayState (a cooperative team: Alone)
    runners: tuple[rollout.EnvRunner, ...]  # the live envs: shared, or one set per behaviour
    keys: tuple[jax.Array, ...]  # each behaviour's rng


@struct.dataclass
class Alone:
    """A cooperative team's self-play state: only its agent-step count."""

    learner_steps: jax.Array


class Trainer(abc.ABC):
    """What runs, checkpoints, evaluation and export use: ``init``, ``update`` (jit-able, so
    ``scan_updates`` runs a chunk of them), ``policy_params`` and ``team_policy``."""

    shared_envs = True  # one set of live envs for every behaviour

    def __init__(
        self, env: MultiAgentEnv, learners: Sequence[Learner], cfgs: Sequence[SelfPlayConfig]
    ) -> None:
        self.env, self.learners, self.selfplay_cfgs = env, tuple(learners), tuple(cfgs)

    @property
    def env_steps_per_update(self) -> int:
        return self.learners[0].env_steps_per_update

    @property
    def behaviour_names(self) -> list[str]:
        return [learner.behaviour.name for learner in self.learners]

    def learner_of(self, name: str) -> Learner:
        """The learner of behaviour ``name``; an unknown name lists the valid ones."""
        for learner in self.learners:
            if learner.behaviour.name == name:
                return learner
        raise ValueError(f"unknown behaviour {name!r}; valid: {', '.join(self.behaviour_names)}")

    def init(self, key: jax.Array) -> TrainState:
        """The first state, built as one compiled program: eagerly, the env reset and the
        self-play states were ~250 ops, each looked up or compiled on its own (seconds per
        start), and the first reset rounded unlike every later one, which the chunk compiles."""
        return self._compiled_init(key)

    @functools.cached_property
    def _compiled_init(self) -> Callable[[jax.Array], TrainState]:
        # One jit per trainer: a new one per call retraced and relowered init for every seed
        # of a group (`experiments.run seeds=[...]`) and every resume in one process.
        return jax.jit(self._init)

    def _init(self, key: jax.Array) -> TrainState:
        keys = [key] if len(self.learners) == 1 else jax.random.split(key, len(self.learners))
        states, runners, run_keys, pools = [], [], [], []
        for b, (learner, k) in enumerate(zip(self.learners, keys, strict=True)):
            *k_learner, k_env, k_run = jax.random.split(k, learner.init_keys + 2)
            states.append(learner.init(*k_learner))
            if b == 0 or not self.shared_envs:
                runners.append(rollout.init_runner(self.env, k_env, learner.num_envs))
            run_keys.append(k_run)
            pools.append(self.init_selfplay(b, learner.policy_params(states[-1])))
        return TrainState(tuple(states), tuple(pools), tuple(runners), tuple(run_keys))

    def init_selfplay(self, behaviour: int, snapshot: Any) -> Any:
        """Behaviour ``behaviour``'s self-play state, its first snapshot ``snapshot``: a ghost
        pool by default."""
        return selfplay.init(snapshot, self.selfplay_cfgs[behaviour])

    @abc.abstractmethod
    def update(self, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        """Collect, learn, advance self-play. Jit-able."""

    def policy_params(self, state: TrainState) -> Any:
        """What ``team_policy`` plays with: the saved final policy (one per behaviour in a
        game of several)."""
        params = tuple(
            learner.policy_params(s)
            for learner, s in zip(self.learners, state.learners, strict=True)
        )
        return params[0] if len(params) == 1 else params

    @property
    def team_policy(self) -> Policy | Roles:
        """What plays a team in matches and evaluation."""
        return self.learners[0].act

    def learn(
        self,
        behaviour: int,
        state: Any,
        runner: rollout.EnvRunner,
        steps: rollout.Step,
        agents: jax.Array | np.ndarray,
        team: jax.Array,
        key: jax.Array,
    ) -> tuple[Any, dict[str, jax.Array]]:
        """Behaviour ``behaviour``'s learner learns from the steps of ``agents`` (``team``)."""
        learner = self.learners[behaviour]
        batch = Rollout(
            steps=steps,
            last_obs=rollout.own_view(runner.obs[:, agents], learner.obs_shape[0]),
            last_active=runner.active[:, agents],
            learning_team=team,
        )
        return learner.learn(state, batch, key)


def scan_updates(trainer: Trainer, updates: int) -> Callable[[TrainState], tuple[Any, Any]]:
    """``updates`` updates as one function of the state, ``(state, metrics [updates])``: a
    training chunk, to be jitted."""

    def run(state: TrainState) -> tuple[TrainState, Any]:
        return jax.lax.scan(lambda s, _: trainer.update(s), state, None, length=updates)

    return run


class GhostTrainer(Trainer):
    """ML-Agents' ghost trainer for a game whose teams play one behaviour."""

    def __init__(
        self,
        env: MultiAgentEnv,
        learner: Learner,
        cfg: SelfPlayConfig,
        opponents: Sequence[Policy] = (),
    ) -> None:
        super().__init__(env, [learner], [cfg])
        if len(opponents) != len(cfg.opponents):
            raise ValueError(
                f"env.selfplay.opponents names {len(cfg.opponents)} frozen players but "
                f"{len(opponents)} team policies were given: load them with "
                "experiments.core.players.frozen_opponents"
            )
        self.opponents = list(opponents)

    def update(self, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        (learner,), (cfg,) = self.learners, self.selfplay_cfgs
        (ls,), (sp,), (runner,), (key,) = state.learners, state.selfplay, state.runners, state.keys
        key, k_roll, k_swap, k_learn = jax.random.split(key, 4)
        acting = learner.acting(ls)
        runner, steps, episodes, sp = selfplay.collect_vs_ghost(
            self.env,
            runner,
            sp,
            k_roll,
            learner.rollout_len,
            cfg,
            acting.act,
            learner.ghost(ls),
            self.opponents,
            acting.value,
            acting.record_ghost,
        )
        agents = rollout.symmetric_seats(self.env.spec, sp.learning_team).learners
        ls, metrics = self.learn(0, ls, runner, steps, agents, sp.learning_team, k_learn)
        agent_steps = jnp.asarray(learner.env_steps_per_update * learner.team_size, jnp.int32)
        sp = selfplay.advance(sp, learner.policy_params(ls), k_swap, agent_steps, agent_steps, cfg)
        metrics = {**metrics, **selfplay.metrics(sp, episodes)}
        return TrainState((ls,), (sp,), (runner,), (key,)), metrics


class CooperativeTrainer(Trainer):
    """A one-team task: every agent learns, nobody is a ghost."""

    def __init__(self, env: MultiAgentEnv, learner: Learner, cfg: SelfPlayConfig) -> None:
        super().__init__(env, [learner], [cfg])
        width = env.spec.obs_shape[0]
        agents = np.arange(env.spec.num_agents, dtype=np.int32)
        self.seats = rollout.Seats(agents, np.zeros(0, np.int32), width, width)

    def init_selfplay(self, behaviour: int, snapshot: Any) -> Alone:
        del snapshot  # no pool: nobody plays a past self
        return Alone(learner_steps=jnp.zeros((), jnp.int32))

    def update(self, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        (learner,) = self.learners
        (ls,), (sp,), (runner,), (key,) = state.learners, state.selfplay, state.runners, state.keys
        key, k_roll, _, k_learn = jax.random.split(key, 4)  # no swap: the same key stream
        acting = learner.acting(ls)
        runner, steps, episodes = rollout.collect(
            self.env,
            runner,
            k_roll,
            learner.rollout_len,
            self.seats,
            acting.act,
            None,
            acting.value,
            acting.record_ghost,
        )
        team = jnp.zeros((), jnp.int32)
        ls, metrics = self.learn(0, ls, runner, steps, self.seats.learners, team, k_learn)
        sp = sp.replace(
            learner_steps=sp.learner_steps + learner.env_steps_per_update * learner.team_size
        )
        means = rollout.episode_metrics(episodes)
        no_games = ("win_rate", "loss_rate", "decided_games")
        metrics = {**metrics, **{k: v for k, v in means.items() if k not in no_games}}
        return TrainState((ls,), (sp,), (runner,), (key,)), metrics


class TurnTrainer(Trainer):
    """One learner per behaviour of a two-team game, taking turns as ML-Agents' GhostController
    has them: the learning team rotates every ``team_change`` of the learning behaviour's own
    agent-steps; the other team plays a ghost drawn from *its own* behaviour's pool, swapped
    after its own ``swap_steps`` of ghost agent-steps; each behaviour keeps its own ELO,
    moved by games against the other's ghost. The live envs are shared."""

    def __init__(
        self, env: MultiAgentEnv, learners: Sequence[Learner], cfgs: Sequence[SelfPlayConfig]
    ) -> None:
        super().__init__(env, learners, cfgs)
        spec = env.spec
        self.team_behaviour = tuple(spec.behaviour_of(t) for t in range(spec.num_teams))
        self.seats = [behaviour_seats(env, b)[0] for b in range(len(self.learners))]
        self.opponent_of = [
            self.team_behaviour[1 - spec.behaviour_teams(b)[0]] for b in range(len(learners))
        ]

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

    def opponent(self, other: SelfPlayState, other_current: Any) -> Any:
        """The params the other team plays with: the other behaviour's ghost."""
        del other_current
        return other.ghost

    def advance(
        self,
        behaviour: int,
        own: SelfPlayState,
        other: SelfPlayState,
        snapshot: Any,
        other_current: Any,
        key: jax.Array,
    ) -> tuple[SelfPlayState, SelfPlayState]:
        learner, o = self.learners[behaviour], self.opponent_of[behaviour]
        seats = self.seats[behaviour]
        steps = learner.env_steps_per_update
        return selfplay.advance_asymmetric(
            own,
            other,
            snapshot,
            other_current,
            key,
            jnp.asarray(steps * len(seats.learners), jnp.int32),
            jnp.asarray(steps * len(seats.ghosts), jnp.int32),
            self.selfplay_cfgs[behaviour],
            self.selfplay_cfgs[o],
        )

    def turn(self, behaviour: int, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        """One update of ``behaviour`` (its team learns) against the other team."""
        b, o = behaviour, self.opponent_of[behaviour]
        learner, other = self.learners[b], self.learners[o]
        states, pools = list(state.learners), list(state.selfplay)
        runners, keys = list(state.runners), list(state.keys)
        r = 0 if self.shared_envs else b
        key, k_roll, k_swap, k_learn = jax.random.split(keys[b], 4)
        acting = learner.acting(states[b])
        other_current = other.policy_params(states[o])
        ghost = functools.partial(other.ghost(states[o]), self.opponent(pools[o], other_current))
        runner, steps, episodes = rollout.collect(
            self.env,
            runners[r],
            k_roll,
            learner.rollout_len,
            self.seats[b],
            acting.act,
            ghost,
            acting.value,
            acting.record_ghost,
        )
        finished = jnp.broadcast_to(
            (episodes.ended & episodes.terminated)[..., None], episodes.final_reward.shape
        )
        own, theirs = selfplay.record_games_between(
            pools[b], pools[o], rollout.game_result(episodes), finished, self.selfplay_cfgs[b].elo_k
        )
        states[b], metrics = self.learn(
            b, states[b], runner, steps, self.seats[b].learners, own.learning_team, k_learn
        )
        snapshot = learner.policy_params(states[b])
        pools[b], pools[o] = self.advance(b, own, theirs, snapshot, other_current, k_swap)
        runners[r], keys[b] = runner, key
        metrics = {
            **metrics,
            **rollout.episode_metrics(episodes),
            "ghost_index": pools[o].ghost_index,  # the slot of the other behaviour's pool
            "learning_team": pools[b].learning_team,
            "learning_behaviour": jnp.asarray(b, jnp.int32),
            **{
                f"elo_{lrn.behaviour.name}": sp.elos[-1]
                for lrn, sp in zip(self.learners, pools, strict=True)
            },
        }
        return TrainState(tuple(states), tuple(pools), tuple(runners), tuple(keys)), metrics

    def update(self, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        branches = [functools.partial(self.turn, b) for b in self.team_behaviour]
        return jax.lax.switch(state.selfplay[0].learning_team, branches, state)


class ConcurrentTrainer(TurnTrainer):
    """Every behaviour learns in every update, one after the other, each from its own rollout
    against the other behaviour's current policy (``selfplay.concurrent``): no pool, swaps,
    saves or team changes; the learning team is always the behaviour's own, and a game moves
    both behaviours' current ratings (``ghost_index`` is ``window``, the current rating's
    slot). Metrics are logged as ``<metric>_<behaviour>``.

    Each behaviour keeps its own live envs: interleaved on shared envs, a behaviour's
    consecutive steps would be two env steps apart, and an off-policy learner's one-step
    targets (MADDPG's replay of consecutive pairs) would skip the other's steps and rewards.
    """

    shared_envs = False

    def init_selfplay(self, behaviour: int, snapshot: Any) -> SelfPlayState:
        (team,) = self.env.spec.behaviour_teams(behaviour)
        sp = selfplay.init(snapshot, self.selfplay_cfgs[behaviour])
        return sp.replace(
            ghost_index=jnp.asarray(self.selfplay_cfgs[behaviour].window, jnp.int32),
            learning_team=jnp.asarray(team, jnp.int32),
        )

    def opponent(self, other: SelfPlayState, other_current: Any) -> Any:
        """The other behaviour's current weights: it learns beside this one."""
        del other
        return other_current

    def advance(
        self,
        behaviour: int,
        own: SelfPlayState,
        other: SelfPlayState,
        snapshot: Any,
        other_current: Any,
        key: jax.Array,
    ) -> tuple[SelfPlayState, SelfPlayState]:
        """Only this behaviour's agent-steps are counted: nothing is saved or swapped."""
        del snapshot, other_current, key
        learner = self.learners[behaviour]
        steps = jnp.asarray(learner.env_steps_per_update * learner.team_size, jnp.int32)
        return own.replace(learner_steps=own.learner_steps + steps), other

    @property
    def env_steps_per_update(self) -> int:
        return sum(learner.env_steps_per_update for learner in self.learners)

    def update(self, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        """Every behaviour's update in turn; ``loss`` sums theirs, so a NaN in any is caught."""
        metrics: dict[str, jax.Array] = {}
        for b, learner in enumerate(self.learners):
            state, mine = self.turn(b, state)
            name = learner.behaviour.name
            metrics |= {
                f"{k}_{name}": v
                for k, v in mine.items()
                if not k.startswith("elo_") and k != "learning_behaviour"
            }
            metrics["loss"] = metrics.get("loss", 0.0) + mine["loss"]
        ratings = {k: v for k, v in mine.items() if k.startswith("elo_")}
        return state, {**metrics, **ratings}


def behaviour_seats(env: MultiAgentEnv, behaviour: int) -> tuple[rollout.Seats, Seating]:
    """Where behaviour ``behaviour``'s team sits in a two-team game of two behaviours, and
    what its learner is told of the team it faces."""
    spec = env.spec
    if spec.num_teams != 2:
        raise ValueError(f"asymmetric self-play needs two teams, got teams {spec.teams}")
    (team,) = spec.behaviour_teams(behaviour)
    own = spec.behaviour_specs[behaviour]
    other = spec.behaviour_specs[spec.behaviour_of(1 - team)]
    seats = rollout.Seats(
        np.asarray(spec.team_agents(team), np.int32),
        np.asarray(spec.team_agents(1 - team), np.int32),
        own.obs_shape[0],
        other.obs_shape[0],
    )
    seating = Seating(len(seats.learners), len(seats.ghosts), other.obs_shape, other.action_space)
    return seats, seating


def build(
    learner_class: type[Learner],
    env: MultiAgentEnv,
    cfg: Mapping[str, Any],
    selfplay_cfg: SelfPlayConfig | Sequence[SelfPlayConfig],
    total_env_steps: int,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    opponents: Sequence[Policy] = (),
) -> Trainer:
    """The trainer ``env``'s spec declares, with its learners: one team (cooperative), one
    behaviour for two teams (ghost), or one behaviour per team (turns, or concurrent with
    ``selfplay.concurrent``). In a game of several behaviours ``selfplay_cfg`` may give one
    config per behaviour and ``overrides`` algorithm settings per behaviour name.
    ``opponents``: the team policies of ``selfplay.opponents``, in order (ghost trainer)."""
    spec = env.spec
    names = [b.name for b in spec.behaviour_specs]
    cfgs = (
        [selfplay_cfg] * len(names)
        if isinstance(selfplay_cfg, SelfPlayConfig)
        else list(selfplay_cfg)
    )
    if len(cfgs) != len(names):
        raise ValueError(
            f"{spec.name} has behaviours {names}: give one self-play config each, got {len(cfgs)}"
        )
    overrides = dict(overrides or {})
    if overrides and not spec.asymmetric:
        raise ValueError(
            f"algo.behaviours gives settings for {', '.join(sorted(overrides))}, but every team "
            f"of {spec.name} plays one behaviour: set them on algo directly"
        )
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(
            f"algo.behaviours names {', '.join(unknown)}; {spec.name} has behaviours "
            f"{', '.join(names)}"
        )
    if spec.num_teams == 1:
        width = spec.obs_shape
        seating = Seating(spec.num_agents, 0, width, spec.action_space)
        return CooperativeTrainer(env, learner_class(env, cfg, seating, total_env_steps), cfgs[0])
    if not spec.asymmetric:
        if cfgs[0].concurrent:
            raise ValueError(
                f"{spec.name}: env.selfplay.concurrent needs teams with their own behaviours; "
                "both teams here play one behaviour (a symmetric game), so set it to false"
            )
        size = int(rollout.team_table(spec).shape[1])
        seating = Seating(size, size, spec.obs_shape, spec.action_space)
        learner = learner_class(env, cfg, seating, total_env_steps)
        return GhostTrainer(env, learner, cfgs[0], opponents)
    for c in cfgs:
        if c.opponents:
            raise ValueError(
                f"{spec.name}: frozen opponents (selfplay.opponents) are not supported in an "
                "asymmetric game; set env.selfplay.opponents=[]"
            )
    concurrent = {c.concurrent for c in cfgs}
    if len(concurrent) > 1:
        raise ValueError(
            f"{spec.name}: set env.selfplay.concurrent for every behaviour or for none "
            "(each behaviour learns at once, or they take turns)"
        )
    per_behaviour = [{**cfg, **overrides.get(n, {})} for n in names]
    steps = [c["num_envs"] * c["rollout_len"] for c in per_behaviour]
    if concurrent == {True}:
        # every behaviour learns in every update: each gets its share of the run's steps, so
        # schedules over the run (``anneal_lr``) end where the run ends
        totals = [total_env_steps * s // sum(steps) for s in steps]
    else:
        if len(set(steps)) > 1:
            raise ValueError(
                f"the behaviours take turns on shared envs, so they must collect as many env "
                f"steps per update; got {dict(zip(names, steps, strict=True))} (num_envs × "
                "rollout_len): give algo.behaviours the same values"
            )
        num_envs = sorted({c["num_envs"] for c in per_behaviour})
        if len(num_envs) > 1:
            raise ValueError(
                f"the behaviours share one set of live envs; algo.behaviours gives num_envs "
                f"{num_envs}: give every behaviour the same"
            )
        totals = [total_env_steps] * len(names)
    learners = [
        learner_class(env, c, behaviour_seats(env, b)[1], total, behaviour=b)
        for b, (c, total) in enumerate(zip(per_behaviour, totals, strict=True))
    ]
    case = ConcurrentTrainer if concurrent == {True} else TurnTrainer
    return case(env, learners, cfgs)
