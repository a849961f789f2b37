"""ML-Agents' ghost self-play as pure functions on arrays, shared by every algorithm.

One team learns; the other plays a frozen *ghost*: either a past snapshot from a ring buffer
of ``window`` saves, or (with probability ``play_against_latest_model_ratio``) a copy of the
current weights taken at swap time. The schedule and ELO follow ML-Agents' GhostTrainer
(``ghost/trainer.py``, ``ghost/controller.py``):

- counters are in agent-steps: ``learner_steps`` of learning-team agents, ``ghost_steps`` of
  ghost-team agents;
- a snapshot is saved when ``learner_steps - last_save > save_steps`` (slot ``counter``, with
  the learner's current ELO), the learning team rotates when
  ``learner_steps - last_team_change > team_change``, and the ghost is swapped on a team
  change or when ``ghost_steps - last_swap > swap_steps``;
- ELO: ``E = 1 / (1 + 10^((R_opp - R) / 400))``, ``delta = K (S - E)`` with ML-Agents' K = 1
  (its code applies no K factor; the docs' K = 16 example is not what it runs). The learner
  gains ``delta``, the ghost's slot loses it; against "current" both are the same entry of
  ``elos`` so the net change is zero, as in ML-Agents. One update per learning agent per
  finished game; timed-out games do not count, as in ML-Agents' ``_process_trajectory``
  (mlagents 0.28.0, ``trainers/ghost/trainer.py`` l.197-201: ELO moves only when
  ``done_reached and all_group_dones_reached and not trajectory.interrupted``, and a
  max-step end is ``interrupted``). (The game's result is read by
  ``rollout.game_result``: the sign rule of ML-Agents generalised to non-zero-sum rewards.)

Beyond ML-Agents: training against a population. With ``opponents_ratio > 0`` a swap may
instead hand the ghost team to one of ``opponents``, frozen players (the env's scripted
players, run directories, ML-Agents models; resolved to team policies by the caller). Which
one is drawn follows ``pfsp``: uniformly, or by AlphaStar's prioritised fictitious self-play
(Vinyals et al. 2019, "Grandmaster level in StarCraft II", Methods): with ``p`` the learner's
recent score against an opponent, ``hard`` weighs it ``(1 - p)^2`` (the opponents it loses
to) and ``variance`` ``p (1 - p)`` (those it is even with). ``p`` is a running mean over
games that forgets ``1 - PFSP_MEMORY`` of its weight per update, starting from one draw.
Games against a frozen opponent do not move ELO: the ratings stay a measure of self-play
progress, comparable with ML-Agents' runs. With ``opponents_ratio`` = 1 the first ghost is
already an opponent: every game is against the population (what ``experiments.exploit``
trains with).

Everything lives in a ``flax.struct`` state so the schedule runs inside the jitted loop: the
ghost's params are selected by index from the stacked pool, never in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import yaml
from flax import struct

from algos import rollout
from envs.base import MultiAgentEnv
from envs.policy import BatchPolicy, Policy, SnapshotPolicy, vmap_policy

MLAGENTS = Path(__file__).resolve().parents[1] / "conf" / "selfplay" / "mlagents.yaml"
PFSP = ("uniform", "hard", "variance")
PFSP_MEMORY = 0.95  # per update: the learner's score against an opponent is a recent one


@dataclass(frozen=True)
class SelfPlayConfig:
    """Ghost-trainer settings (ML-Agents names). The values are YAML's: a game's
    ``conf/env/<game>.yaml`` (over ``conf/selfplay/mlagents.yaml``), or ``mlagents()``."""

    save_steps: int
    team_change: int
    swap_steps: int
    window: int
    play_against_latest_model_ratio: float
    initial_elo: float
    elo_k: float
    # frozen players a swap may draw (ours, not ML-Agents'): scripted players' names, run
    # directories, ML-Agents .onnx files or model folders
    opponents: tuple[str, ...]
    opponents_ratio: float  # probability that a swap draws one of ``opponents``
    pfsp: str  # how: "uniform", or prioritised fictitious self-play, "hard" or "variance"
    # asymmetric games: every behaviour learns each update against the others' current
    # policies, no ghost (Lowe et al. 2017's mixed tasks; ours, not ML-Agents')
    concurrent: bool

    @classmethod
    def mlagents(cls, **overrides: Any) -> SelfPlayConfig:
        """ML-Agents' code defaults (``conf/selfplay/mlagents.yaml``, the one place they are
        written) with ``overrides``: for studies and tests outside a game's config."""
        values = {**yaml.safe_load(MLAGENTS.read_text()), **overrides}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def __post_init__(self) -> None:
        if not 0.0 <= self.opponents_ratio <= 1.0:
            raise ValueError(f"opponents_ratio must be in [0, 1], got {self.opponents_ratio}")
        if self.opponents_ratio > 0.0 and not self.opponents:
            raise ValueError("opponents_ratio > 0 needs a list of frozen players (opponents)")
        if self.pfsp not in PFSP:
            raise ValueError(f"unknown pfsp {self.pfsp!r}; choose one of {', '.join(PFSP)}")


@struct.dataclass
class SelfPlayState:
    pool: Any  # policy params with a leading [window] axis (ring buffer of snapshots)
    elos: jax.Array  # [window + 1] float32; the last entry is the learner (policy_elos[-1])
    num_saved: jax.Array  # int32, filled slots of the pool
    counter: jax.Array  # int32, the slot the next save writes
    ghost: Any  # params the non-learning team plays with (frozen between swaps)
    ghost_index: jax.Array  # int32, pool slot the ghost came from, or ``window`` for current
    ghost_opponent: jax.Array  # int32: index into ``cfg.opponents``, or -1 (a snapshot)
    # the learner's games against each opponent (PFSP): score and games, both forgetting
    opponent_score: jax.Array  # [max(len(opponents), 1)] float32
    opponent_games: jax.Array  # [max(len(opponents), 1)] float32
    learning_team: jax.Array  # int32
    learner_steps: jax.Array  # int32 agent-steps of the learning team
    ghost_steps: jax.Array  # int32 agent-steps of the ghost team
    last_save: jax.Array
    last_swap: jax.Array
    last_team_change: jax.Array


def init(params: Any, cfg: SelfPlayConfig) -> SelfPlayState:
    """The initial weights are snapshot 0 and the first ghost (ML-Agents saves on add_policy)."""
    pool = jax.tree.map(lambda p: jnp.broadcast_to(p, (cfg.window, *p.shape)), params)
    zero = jnp.zeros((), jnp.int32)
    return SelfPlayState(
        pool=pool,
        elos=jnp.full((cfg.window + 1,), cfg.initial_elo, jnp.float32),
        num_saved=jnp.ones((), jnp.int32),
        counter=jnp.asarray(1 % cfg.window, jnp.int32),
        ghost=params,
        ghost_index=zero,
        ghost_opponent=jnp.full((), 0 if cfg.opponents_ratio >= 1.0 else -1, jnp.int32),
        opponent_score=jnp.zeros((max(len(cfg.opponents), 1),), jnp.float32),
        opponent_games=jnp.zeros((max(len(cfg.opponents), 1),), jnp.float32),
        learning_team=zero,
        learner_steps=zero,
        ghost_steps=zero,
        last_save=zero,
        last_swap=zero,
        last_team_change=zero,
    )


def expected_score(rating: jax.Array, opponent_rating: jax.Array) -> jax.Array:
    """Probability that ``rating`` beats ``opponent_rating`` under the ELO model."""
    return 1.0 / (1.0 + 10.0 ** ((opponent_rating - rating) / 400.0))


def elo_change(
    rating: jax.Array, opponent_rating: jax.Array, result: jax.Array, k: float = 1.0
) -> jax.Array:
    """``K (S - E)``: what the player gains and the opponent loses after one game."""
    return k * (result - expected_score(rating, opponent_rating))


def record_games(
    sp: SelfPlayState, results: jax.Array, finished: jax.Array, k: float
) -> SelfPlayState:
    """Apply one ELO update per finished entry, in order (time-major flattening).

    ``results`` and ``finished`` share any shape; only ``finished`` entries count, and none
    while the ghost is a frozen opponent. Updates are
    sequential because each one moves both ratings that the next one reads.
    """
    results = results.reshape(-1)
    finished = finished.reshape(-1) & (sp.ghost_opponent < 0)
    (order,) = jnp.nonzero(finished, size=finished.size, fill_value=0)
    learner = sp.elos.shape[0] - 1

    def body(i: jax.Array, elos: jax.Array) -> jax.Array:
        delta = elo_change(elos[learner], elos[sp.ghost_index], results[order[i]], k)
        return elos.at[learner].add(delta).at[sp.ghost_index].add(-delta)

    elos = jax.lax.fori_loop(0, jnp.sum(finished), body, sp.elos)
    return sp.replace(elos=elos)


def advance(
    sp: SelfPlayState,
    params: Any,
    key: jax.Array,
    learner_steps: jax.Array,
    ghost_steps: jax.Array,
    cfg: SelfPlayConfig,
) -> SelfPlayState:
    """Count steps, then team change, save and swap, in ML-Agents' order (after an update)."""
    sp = sp.replace(
        learner_steps=sp.learner_steps + learner_steps, ghost_steps=sp.ghost_steps + ghost_steps
    )
    change = sp.learner_steps - sp.last_team_change > cfg.team_change
    sp = sp.replace(
        learning_team=jnp.where(change, 1 - sp.learning_team, sp.learning_team),
        last_team_change=jnp.where(change, sp.learner_steps, sp.last_team_change),
    )

    sp = save_snapshot(sp, params, cfg)
    swap = change | (sp.ghost_steps - sp.last_swap > cfg.swap_steps)
    return swap_ghost(sp, params, key, swap, cfg)


def save_snapshot(sp: SelfPlayState, params: Any, cfg: SelfPlayConfig) -> SelfPlayState:
    """Save ``params`` with the current ELO into the pool once ``save_steps`` have passed."""
    save = sp.learner_steps - sp.last_save > cfg.save_steps
    slot = sp.counter
    pool = jax.tree.map(
        lambda buf, p: buf.at[slot].set(jnp.where(save, p, buf[slot])), sp.pool, params
    )
    return sp.replace(
        pool=pool,
        elos=sp.elos.at[slot].set(jnp.where(save, sp.elos[-1], sp.elos[slot])),
        num_saved=jnp.where(save, jnp.minimum(sp.num_saved + 1, cfg.window), sp.num_saved),
        counter=jnp.where(save, (slot + 1) % cfg.window, slot),
        last_save=jnp.where(save, sp.learner_steps, sp.last_save),
    )


def swap_ghost(
    sp: SelfPlayState, params: Any, key: jax.Array, swap: jax.Array, cfg: SelfPlayConfig
) -> SelfPlayState:
    """Where ``swap``: a new ghost, the current ``params`` with probability
    ``play_against_latest_model_ratio``, else a uniform draw from the pool (or, with
    probability ``opponents_ratio``, a frozen opponent drawn by ``pfsp``)."""
    k_latest, k_slot, k_league, k_opponent = jax.random.split(key, 4)
    latest = jax.random.uniform(k_latest) >= 1.0 - cfg.play_against_latest_model_ratio
    slot = jax.random.randint(k_slot, (), 0, sp.num_saved)
    index = jnp.where(latest, cfg.window, slot)
    ghost = jax.tree.map(lambda buf, p: jnp.where(latest, p, buf[slot]), sp.pool, params)
    opponent = jnp.where(
        jax.random.uniform(k_league) < cfg.opponents_ratio,
        jax.random.categorical(k_opponent, jnp.log(pfsp_weights(sp, cfg))),
        -1,
    )
    return sp.replace(
        ghost=jax.tree.map(lambda new, old: jnp.where(swap, new, old), ghost, sp.ghost),
        ghost_index=jnp.where(swap, index, sp.ghost_index),
        ghost_opponent=jnp.where(swap, opponent, sp.ghost_opponent).astype(jnp.int32),
        last_swap=jnp.where(swap, sp.ghost_steps, sp.last_swap),
    )


def pfsp_weights(sp: SelfPlayState, cfg: SelfPlayConfig) -> jax.Array:
    """Unnormalised draw weights of the opponents (``cfg.pfsp``), from the learner's recent
    score ``p`` against each (one prior draw: 1/2 before any game)."""
    p = (sp.opponent_score + 0.5) / (sp.opponent_games + 1.0)
    if cfg.pfsp == "hard":
        weights = (1.0 - p) ** 2
    elif cfg.pfsp == "variance":
        weights = p * (1.0 - p)
    else:
        weights = jnp.ones_like(p)
    return weights[: max(len(cfg.opponents), 1)] + 1e-6  # never quite zero


def record_opponent_games(
    sp: SelfPlayState, results: jax.Array, finished: jax.Array
) -> SelfPlayState:
    """Forget ``1 - PFSP_MEMORY`` of every opponent's record, then add the ``finished``
    ``results`` (learner's scores) to the current ghost's, if it is an opponent."""
    counted = jnp.where(sp.ghost_opponent >= 0, finished.reshape(-1), False)
    index = jnp.maximum(sp.ghost_opponent, 0)
    score = jnp.sum(jnp.where(counted, results.reshape(-1), 0.0))
    return sp.replace(
        opponent_score=(PFSP_MEMORY * sp.opponent_score).at[index].add(score),
        opponent_games=(PFSP_MEMORY * sp.opponent_games).at[index].add(jnp.sum(counted)),
    )


def advance_asymmetric(
    own: SelfPlayState,
    other: SelfPlayState,
    params: Any,
    other_current: Any,
    key: jax.Array,
    own_steps: jax.Array,
    other_steps: jax.Array,
    own_cfg: SelfPlayConfig,
    other_cfg: SelfPlayConfig,
) -> tuple[SelfPlayState, SelfPlayState]:
    """``advance`` for two behaviours after an update of the learning one (``own``).

    ML-Agents runs one GhostTrainer per behaviour under one GhostController. The learning
    behaviour counts ``own_steps`` of its agents and the other ``other_steps`` of its ghost
    agents; the learning one changes team after ``team_change`` of its own steps and saves
    after ``save_steps``; on a team change both swap (the one that stops learning draws its
    ghost; the other only restarts its swap count); otherwise the other behaviour swaps its
    ghost after its own ``swap_steps`` (``other_current``: its current weights, the "latest
    model" it may draw).
    """
    own = own.replace(learner_steps=own.learner_steps + own_steps)
    other = other.replace(ghost_steps=other.ghost_steps + other_steps)
    change = own.learner_steps - own.last_team_change > own_cfg.team_change
    team = jnp.where(change, 1 - own.learning_team, own.learning_team)
    own = own.replace(
        learning_team=team,
        last_team_change=jnp.where(change, own.learner_steps, own.last_team_change),
    )
    other = other.replace(learning_team=team)
    own = save_snapshot(own, params, own_cfg)
    k_own, k_other = jax.random.split(key)
    own = swap_ghost(own, params, k_own, change, own_cfg)
    other_swap = change | (other.ghost_steps - other.last_swap > other_cfg.swap_steps)
    other = swap_ghost(other, other_current, k_other, other_swap, other_cfg)
    return own, other


def record_games_between(
    own: SelfPlayState,
    other: SelfPlayState,
    results: jax.Array,
    finished: jax.Array,
    k: float,
) -> tuple[SelfPlayState, SelfPlayState]:
    """``record_games`` across behaviours: the learner's current rating against the rating
    of the other behaviour's ghost (``other.elos[other.ghost_index]``), which loses what the
    learner gains, as ML-Agents' GhostController does with the opposing team's trainer."""
    results = results.reshape(-1)
    finished = finished.reshape(-1)
    (order,) = jnp.nonzero(finished, size=finished.size, fill_value=0)
    index = other.ghost_index

    def body(i: jax.Array, ratings: tuple[jax.Array, jax.Array]):
        mine, theirs = ratings
        delta = elo_change(mine, theirs, results[order[i]], k)
        return mine + delta, theirs - delta

    mine, theirs = jax.lax.fori_loop(0, jnp.sum(finished), body, (own.elos[-1], other.elos[index]))
    return own.replace(elos=own.elos.at[-1].set(mine)), other.replace(
        elos=other.elos.at[index].set(theirs)
    )


def ghost_policy(
    sp: SelfPlayState, network: SnapshotPolicy, opponents: Sequence[Policy] = ()
) -> BatchPolicy:
    """``(obs [E, n, ...], key, episode_id [E]) -> env actions``: the snapshot or the drawn
    frozen opponent.

    ``network(params, obs [E, n, ...], key, episode_id)`` plays ``sp.ghost``; ``opponents``
    are team policies ``(None, obs [n, ...], key)`` in ``cfg.opponents`` order (their own
    params inside), vmapped over envs. A ``lax.switch`` on the traced ``ghost_opponent`` runs
    only the branch in play.
    """

    def play_network(obs: jax.Array, key: jax.Array, episode_id: jax.Array) -> jax.Array:
        return network(sp.ghost, obs, key, episode_id)

    if not opponents:
        return play_network

    def act(obs: jax.Array, key: jax.Array, episode_id: jax.Array) -> jax.Array:
        dtype = jax.eval_shape(play_network, obs, key, episode_id).dtype

        def lift(policy: Policy) -> BatchPolicy:
            def play(obs: jax.Array, key: jax.Array, episode_id: jax.Array) -> jax.Array:
                return vmap_policy(policy)(None, obs, key).astype(dtype)

            return play

        branches = [play_network, *(lift(p) for p in opponents)]
        return jax.lax.switch(sp.ghost_opponent + 1, branches, obs, key, episode_id)

    return act


def collect_vs_ghost(
    env: MultiAgentEnv,
    runner: rollout.EnvRunner,
    sp: SelfPlayState,
    key: jax.Array,
    num_steps: int,
    cfg: SelfPlayConfig,
    learner_act: rollout.LearnerAct,
    network_act: SnapshotPolicy,
    opponents: Sequence[Policy] = (),
    value_fn: rollout.ValueFn | None = None,
    record_ghost: bool = False,
) -> tuple[rollout.EnvRunner, rollout.Step, rollout.Episodes, SelfPlayState]:
    """Every algorithm's rollout: the learner against the current ghost, games scored into ELO.

    ``network_act(params, obs, key, episode_id)`` is how a snapshot of this algorithm plays.
    """
    runner, steps, episodes = rollout.collect(
        env,
        runner,
        key,
        num_steps,
        rollout.symmetric_seats(env.spec, sp.learning_team),
        learner_act,
        ghost_policy(sp, network_act, opponents),
        value_fn,
        record_ghost,
    )
    finished = jnp.broadcast_to(
        (episodes.ended & episodes.terminated)[..., None], episodes.final_reward.shape
    )
    results = rollout.game_result(episodes)
    sp = record_games(sp, results, finished, cfg.elo_k)
    if opponents:
        sp = record_opponent_games(sp, results, finished)
    return runner, steps, episodes, sp


def learner_elo(sp: SelfPlayState) -> jax.Array:
    return sp.elos[-1]


def metrics(sp: SelfPlayState, episodes: rollout.Episodes) -> dict[str, jax.Array]:
    """What every algorithm logs about its games and the self-play state after an update."""
    return {
        **rollout.episode_metrics(episodes),
        "elo": learner_elo(sp),
        "ghost_index": sp.ghost_index,
        "ghost_opponent": sp.ghost_opponent,
        "learning_team": sp.learning_team,
    }
