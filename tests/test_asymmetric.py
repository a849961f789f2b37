"""Games beyond symmetric pairs: teams with their own behaviours (one learner, pool and ELO
each, ML-Agents' asymmetric ghost trainer) and one-team tasks trained with no ghost."""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import algos
from algos import rollout, selfplay
from algos.learner import Acting
from algos.selfplay import SelfPlayConfig
from algos.trainer import ConcurrentTrainer, TrainState, TurnTrainer, scan_updates
from tests.toy_games import Handshake, Shootout

PPO_TINY = dict(num_envs=32, rollout_len=4, hidden=[16], num_minibatches=4, learning_rate=3e-3)
TINY = {
    "ippo": PPO_TINY,
    "poca": {**PPO_TINY, "critic_hidden": 16},
    "maddpg": dict(
        num_envs=32,
        rollout_len=4,
        hidden=[16],
        critic_hidden=[32],
        batch_size=64,
        learning_starts=256,
        buffer_size=4096,
    ),
}


def train(env, algo: str, selfplay_cfg, updates: int):
    trainer = algos.make(algo, env, TINY[algo], selfplay_cfg, 10**6)
    state, metrics = jax.jit(scan_updates(trainer, updates))(trainer.init(jax.random.PRNGKey(0)))
    return trainer, state, metrics


def shootout_cfgs() -> list[SelfPlayConfig]:
    return [
        SelfPlayConfig.mlagents(save_steps=200, team_change=1000, swap_steps=s, window=3)
        for s in (200, 100)
    ]


def test_rollout_seats_each_behaviour_in_its_own_spaces():
    env = Shootout()
    trainer = algos.make("ippo", env, TINY["ippo"], shootout_cfgs(), 10**6)
    shooter, keeper = trainer.learners
    assert (shooter.obs_shape, shooter.team_size, keeper.obs_shape, keeper.team_size) == (
        (2,),
        2,
        (4,),
        1,
    )
    seen = {}

    def shoot_lane_2(obs, key, episode_id):
        seen["learner"] = obs.shape
        action = jnp.full((*obs.shape[:2], 1), 2, jnp.int32)
        return action, action, None

    def dive_stance_1(obs, key, episode_id):
        seen["ghost"] = obs.shape
        return jnp.ones((*obs.shape[:2], 2), jnp.int32)

    runner = rollout.init_runner(env, jax.random.PRNGKey(0), 5)
    _, steps, episodes = rollout.collect(
        env, runner, jax.random.PRNGKey(1), 3, trainer.seats[0], shoot_lane_2, dive_stance_1
    )
    assert seen == {"learner": (5, 2, 2), "ghost": (5, 1, 4)}
    np.testing.assert_array_equal(steps.obs[0, 0], [[1, 0], [0, 1]])  # the leading slice
    # Every shot scores, the keeper dives with stance 1: 1 - 0.5 = 0.5 for the shooters.
    np.testing.assert_allclose(steps.group_reward, 0.5)
    np.testing.assert_allclose(episodes.ghost_final_reward, -0.5)
    np.testing.assert_array_equal(rollout.game_result(episodes), 1.0)


@pytest.mark.parametrize("algo", ["ippo", "poca", "maddpg"])
def test_asymmetric_self_play_finds_each_roles_dominant_action(algo):
    env = Shootout()
    trainer, state, metrics = train(env, algo, shootout_cfgs(), 80 if algo != "maddpg" else 160)
    shooter_params, keeper_params = trainer.policy_params(state)
    roles = trainer.team_policy
    keys = jax.random.split(jax.random.PRNGKey(1), 200)
    obs = env._obs()
    shots = jax.vmap(lambda k: roles.policies[0](shooter_params, obs[:2], k))(keys)
    saves = jax.vmap(lambda k: roles.policies[1](keeper_params, obs[2:], k))(keys)
    assert shots.shape == (200, 2, 1) and saves.shape == (200, 1, 2)
    assert float(jnp.mean(shots == 2)) > 0.9
    assert float(jnp.mean(saves[..., 0] == 1)) > 0.9 and float(jnp.mean(saves[..., 1] == 0)) > 0.9
    # Both behaviours took turns and both ELOs moved: one behaviour's games move the other's.
    assert set(np.asarray(metrics["learning_behaviour"]).tolist()) == {0, 1}
    assert (
        float(metrics["elo_Shooter"][-1]) != 1200.0 and float(metrics["elo_Keeper"][-1]) != 1200.0
    )


def reference_asymmetric(cfgs, team_size, env_steps: int, calls: int):
    """ML-Agents' GhostController with one GhostTrainer per behaviour, in Python: per call the
    learning trainer's wrapped trainer takes ``env_steps`` steps of its agents and the other
    trainer counts its ghost agents' steps; then each advances (learning one first)."""
    trainers = [
        dict(step=0, ghost=0, save=0, swap=0, change=0, team=0, counter=1 % c.window, saved=1)
        for c in cfgs
    ]
    learning = 0
    log = []
    for _ in range(calls):
        me, other = learning, 1 - learning
        trainers[me]["step"] += env_steps * team_size[me]
        trainers[other]["ghost"] += env_steps * team_size[other]
        events = {}
        for b in (me, other):
            t, c = trainers[b], cfgs[b]
            if t["step"] - t["change"] > c.team_change:
                learning, t["change"] = 1 - learning, t["step"]
            saving = t["step"] - t["save"] > c.save_steps
            if saving:
                t["counter"], t["saved"] = (
                    (t["counter"] + 1) % c.window,
                    min(t["saved"] + 1, c.window),
                )
                t["save"] = t["step"]
            swapped = t["team"] != learning or t["ghost"] - t["swap"] > c.swap_steps
            if swapped:
                t["team"], t["swap"] = learning, t["ghost"]
            events[b] = (t["counter"], t["saved"], swapped)
        log.append((me, learning, events))
    return log


def test_per_behaviour_schedule_follows_ml_agents():
    cfgs = [
        SelfPlayConfig.mlagents(save_steps=100, team_change=300, swap_steps=150, window=3),
        SelfPlayConfig.mlagents(save_steps=60, team_change=200, swap_steps=25, window=4),
    ]
    team_size, env_steps = (2, 1), 20
    states = [selfplay.init({"w": jnp.zeros(2)}, c) for c in cfgs]
    step = jax.jit(selfplay.advance_asymmetric, static_argnums=(7, 8))
    for i, (me, learning, events) in enumerate(
        reference_asymmetric(cfgs, team_size, env_steps, 60)
    ):
        other = 1 - me
        assert int(states[me].learning_team) == me, i
        before = states
        params = [{"w": jnp.full(2, float(i + b * 100))} for b in (0, 1)]
        own, theirs = step(
            states[me],
            states[other],
            params[me],
            params[other],
            jax.random.PRNGKey(i),
            jnp.asarray(env_steps * team_size[me]),
            jnp.asarray(env_steps * team_size[other]),
            cfgs[me],
            cfgs[other],
        )
        states = [None, None]
        states[me], states[other] = own, theirs
        for b in (0, 1):
            counter, saved, swapped = events[b]
            assert int(states[b].learning_team) == learning, (i, b)
            assert (int(states[b].counter), int(states[b].num_saved)) == (counter, saved), (i, b)
            if not swapped:
                np.testing.assert_array_equal(states[b].ghost["w"], before[b].ghost["w"])
            else:
                assert int(states[b].last_swap) == int(states[b].ghost_steps), (i, b)


def test_a_game_moves_the_learner_and_the_other_behaviours_ghost_slot():
    own = selfplay.init({"w": jnp.zeros(1)}, SelfPlayConfig.mlagents(window=3))
    other = selfplay.init({"w": jnp.zeros(1)}, SelfPlayConfig.mlagents(window=3))
    other = other.replace(ghost_index=jnp.asarray(2), elos=other.elos.at[2].set(1400.0))
    results, finished = jnp.array([1.0, 0.0, 1.0]), jnp.array([True, False, True])
    own_out, other_out = selfplay.record_games_between(own, other, results, finished, 1.0)
    mine, theirs = 1200.0, 1400.0
    for s in (1.0, 1.0):
        delta = s - 1 / (1 + 10 ** ((theirs - mine) / 400))
        mine, theirs = mine + delta, theirs - delta
    assert float(own_out.elos[-1]) == pytest.approx(mine, abs=1e-3)
    assert float(other_out.elos[2]) == pytest.approx(theirs, abs=1e-3)
    np.testing.assert_array_equal(own_out.elos[:-1], own.elos[:-1])  # its pool keeps its ratings
    np.testing.assert_array_equal(other_out.elos[:2], other.elos[:2])


@pytest.mark.parametrize("algo", ["ippo", "poca", "maddpg"])
def test_cooperative_task_is_solved_without_a_ghost(algo):
    env = Handshake()
    trainer, state, metrics = train(
        env, algo, SelfPlayConfig.mlagents(), 60 if algo != "maddpg" else 100
    )
    assert "elo" not in metrics and "win_rate" not in metrics  # nobody to beat
    params = trainer.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(1), 200)
    acts = jax.vmap(lambda k: trainer.team_policy(params, jnp.eye(2), k))(keys)
    assert float(jnp.mean((acts[:, 0, 0] == 1) & (acts[:, 1, 0] == 0))) > 0.9
    assert float(metrics["episode_return"][-1]) > 0.8


def test_unequal_teams_need_declared_behaviours():
    from tests.toy_games import DominantDuel

    class Lopsided(DominantDuel):
        @property
        def spec(self):
            import dataclasses

            base = super().spec
            return dataclasses.replace(
                base, num_agents=3, teams=(0, 0, 1), agent_names=("a", "b", "c")
            )

    with pytest.raises(ValueError, match="declares one behaviour per team"):
        algos.make("ippo", Lopsided(), TINY["ippo"], SelfPlayConfig.mlagents(), 10**6)


def test_evaluation_plays_each_role_and_reports_it():
    from envs.policy import Roles, own_view_policy
    from experiments.core.evaluation import head_to_head

    def constant(*values):
        return lambda params, obs, key: jnp.broadcast_to(
            jnp.asarray(values, jnp.int32), (obs.shape[0], len(values))
        )

    def sees(width, values):  # a policy that checks it is handed its own view
        def play(params, obs, key):
            assert obs.shape[-1] == width, obs.shape
            return constant(*values)(params, obs, key)

        return own_view_policy(play, width)

    best = Roles((sees(2, [2]), sees(4, [1, 0])), (0, 1))
    weak = Roles((constant(0), constant(0, 1)), (0, 1))
    out = head_to_head(
        Shootout(), best, [None, None], weak, [None, None], 8, 3, jax.random.PRNGKey(0)
    )
    # Best shooters vs a keeper who stays: 1 > 0; the best keeper vs lane-0 shots: 0.5 > 0.
    assert out["as_Shooter"]["wins"] == 24 and out["as_Shooter"]["losses"] == 0
    assert out["as_Keeper"]["wins"] == 24 and out["as_Keeper"]["losses"] == 0
    assert out["wins"] == 48


# -- concurrent learning: every behaviour learns in every update (Lowe et al. 2017) --------


def concurrent_cfgs() -> list[SelfPlayConfig]:
    return [SelfPlayConfig.mlagents(concurrent=True, window=3)] * 2


@pytest.mark.parametrize(
    "algo, overrides",
    [("ippo", {}), ("maddpg", {"Shooter": {"critic": "local"}})],  # DDPG shooters, MADDPG keeper
)
def test_concurrent_learning_trains_every_behaviour_each_update(algo, overrides):
    env = Shootout()
    updates = 80 if algo == "ippo" else 160
    trainer = algos.make(
        algo, env, {**TINY[algo], "behaviours": overrides}, concurrent_cfgs(), 10**6
    )
    shooter, keeper = trainer.learners
    if algo == "maddpg":  # each behaviour's learner took its own settings
        assert (shooter.cfg.critic, keeper.cfg.critic) == ("local", "central")
    per_behaviour = shooter.env_steps_per_update
    assert trainer.env_steps_per_update == 2 * per_behaviour  # both collect in every update
    state, metrics = jax.jit(scan_updates(trainer, updates))(trainer.init(jax.random.PRNGKey(0)))
    sp_shooter, sp_keeper = state.selfplay
    # Each behaviour counted its own agent-steps in every update; nothing was saved or swapped
    # and neither team ever stopped learning.
    assert int(sp_shooter.learner_steps) == updates * per_behaviour * 2
    assert int(sp_keeper.learner_steps) == updates * per_behaviour * 1
    assert int(sp_shooter.num_saved) == int(sp_keeper.num_saved) == 1
    np.testing.assert_array_equal(metrics["learning_team_Shooter"], 0)
    np.testing.assert_array_equal(metrics["learning_team_Keeper"], 1)
    # Both reach their dominant actions, trained side by side.
    roles, params = trainer.team_policy, trainer.policy_params(state)
    keys = jax.random.split(jax.random.PRNGKey(1), 200)
    obs = env._obs()
    shots = jax.vmap(lambda k: roles.policies[0](params[0], obs[:2], k))(keys)
    saves = jax.vmap(lambda k: roles.policies[1](params[1], obs[2:], k))(keys)
    assert float(jnp.mean(shots == 2)) > 0.9
    assert float(jnp.mean(saves[..., 0] == 1)) > 0.9 and float(jnp.mean(saves[..., 1] == 0)) > 0.9
    # Games move both current ratings by opposite amounts (the shooters win the optimal game).
    elo_s, elo_k = float(metrics["elo_Shooter"][-1]), float(metrics["elo_Keeper"][-1])
    assert elo_s > 1200.0 > elo_k and elo_s + elo_k == pytest.approx(2400.0, abs=1e-2)
    assert {"loss_Shooter", "loss_Keeper", "episode_return_Shooter"} <= set(metrics)
    np.testing.assert_allclose(
        metrics["loss"], metrics["loss_Shooter"] + metrics["loss_Keeper"], rtol=1e-6
    )


def stand_ins(env):
    """A shooter team that always shoots lane 2 and learns nothing, and a keeper whose
    snapshots play their params as actions: what a trainer needs of a learner, no more."""
    shooter = SimpleNamespace(
        behaviour=env.spec.behaviour_specs[0],
        obs_shape=(2,),
        team_size=2,
        rollout_len=2,
        env_steps_per_update=4 * 2,
        acting=lambda state: Acting(
            lambda obs, key, eid: (jnp.full((*obs.shape[:2], 1), 2, jnp.int32),) * 2 + (None,)
        ),
        learn=lambda state, batch, key: (state, {"loss": jnp.zeros(())}),
        policy_params=lambda state: state,
    )
    keeper = SimpleNamespace(
        behaviour=env.spec.behaviour_specs[1],
        policy_params=lambda state: state,
        ghost=lambda state: (
            lambda params, obs, k, eid: jnp.broadcast_to(params, (*obs.shape[:2], 2))
        ),
    )
    return shooter, keeper


@pytest.mark.parametrize("case, shooter_return", [(ConcurrentTrainer, 0.25), (TurnTrainer, 1.0)])
def test_concurrent_opponent_plays_the_other_behaviours_current_weights(case, shooter_return):
    """Side by side the shooters face the keeper's current weights (dive 1, stance 0:
    1 - 0.5 - 0.25 = 0.25 for shooters who all score); taking turns, its pool's ghost
    (dive 0, stance 1: 1)."""
    env = Shootout()
    cfgs = concurrent_cfgs() if case is ConcurrentTrainer else shootout_cfgs()
    trainer = case(env, stand_ins(env), cfgs)
    ghost, current = jnp.array([0, 1], jnp.int32), jnp.array([1, 0], jnp.int32)
    own = trainer.init_selfplay(0, None)
    other = trainer.init_selfplay(1, ghost)
    runner = rollout.init_runner(env, jax.random.PRNGKey(0), 4)
    state = TrainState(
        learners=(None, current),
        selfplay=(own, other),
        runners=(runner,) * (1 if trainer.shared_envs else 2),
        keys=(jax.random.PRNGKey(1),) * 2,
    )
    state, metrics = trainer.turn(0, state)
    np.testing.assert_allclose(metrics["episode_return"], shooter_return)
    own, other = state.selfplay
    # The shooters won all 4 games: both ratings moved, by opposite amounts.
    assert float(own.elos[-1]) > 1200.0 > float(other.elos[other.ghost_index])
    assert int(own.learner_steps) == 4 * 2 * 2 and int(other.learner_steps) == 0
    if case is ConcurrentTrainer:  # ELO moves the current rating's slot; nothing is saved
        assert int(own.ghost_index) == int(other.ghost_index) == 3
        assert int(own.num_saved) == 1 and int(other.ghost_steps) == 0
    else:  # the keeper's ghost counted its agent-steps
        assert int(other.ghost_steps) == 4 * 2 * 1


def critic_input_gradients(critic: str):
    """Gradients of shooter slot 1's Q with respect to every critic input, on random inputs."""
    cfg = {**TINY["maddpg"], "behaviours": {"Shooter": {"critic": critic}}}
    shooter = algos.make("maddpg", Shootout(), cfg, shootout_cfgs(), 10**6).learners[0]
    # Jitted: op by op, the learner's init and the gradient were ~300 small compilations.
    nets = jax.jit(shooter.init)(*jax.random.split(jax.random.PRNGKey(0), shooter.init_keys)).nets
    params = jax.tree.map(lambda p: p[1], nets.critic)
    k = jax.random.split(jax.random.PRNGKey(3), 4)
    obs = (jax.random.normal(k[0], (5, 2, 2)), jax.random.normal(k[1], (5, 1, 4)))
    feat = (jax.random.normal(k[2], (5, 2, 3)), jax.random.normal(k[3], (5, 1, 4)))

    def q(obs, feat):
        return jnp.sum(shooter.critic.apply(params, *shooter._critic_view(obs, feat, 1)))

    return jax.jit(jax.grad(q, argnums=(0, 1)))(obs, feat)


@pytest.mark.parametrize("critic, isolated", [("local", True), ("central", False)])
def test_local_critic_reads_only_its_own_agent(critic, isolated):
    """DDPG (``critic: local``): slot i's Q has no gradient through any other agent's
    observation or action; MADDPG's central critic has."""
    g_obs, g_feat = critic_input_gradients(critic)
    own = [g_obs[0][:, 1], g_feat[0][:, 1]]
    others = [g_obs[0][:, 0], g_feat[0][:, 0], g_obs[1], g_feat[1]]
    assert all(float(jnp.abs(g).max()) > 0 for g in own)
    assert all((float(jnp.abs(g).max()) == 0.0) == isolated for g in others)


def test_concurrent_and_per_behaviour_settings_reject_what_they_cannot_do():
    from tests.toy_games import DominantDuel

    env = Shootout()
    with pytest.raises(ValueError, match="every behaviour or for none"):
        algos.make(
            "ippo",
            env,
            TINY["ippo"],
            [SelfPlayConfig.mlagents(concurrent=True), SelfPlayConfig.mlagents()],
            1,
        )
    with pytest.raises(ValueError, match="symmetric game"):
        algos.make(
            "ippo", DominantDuel(), TINY["ippo"], SelfPlayConfig.mlagents(concurrent=True), 1
        )
    with pytest.raises(ValueError, match=r"Goalie.*Shooter, Keeper"):
        algos.make("ippo", env, {**TINY["ippo"], "behaviours": {"Goalie": {}}}, shootout_cfgs(), 1)
    with pytest.raises(ValueError, match="one behaviour"):
        algos.make(
            "ippo",
            DominantDuel(),
            {**TINY["ippo"], "behaviours": {"a": {}}},
            SelfPlayConfig.mlagents(),
            1,
        )
    with pytest.raises(ValueError, match="unknown critic 'global'; valid: central, local"):
        algos.make("maddpg", env, {**TINY["maddpg"], "critic": "global"}, shootout_cfgs(), 1)
    # Taking turns on shared envs: both behaviours must collect the same steps per update.
    uneven = {**TINY["ippo"], "behaviours": {"Keeper": {"rollout_len": 8}}}
    with pytest.raises(ValueError, match="as many env steps per update"):
        algos.make("ippo", env, uneven, shootout_cfgs(), 1)
    # Side by side, each has its own envs, and its share of the run's budget.
    trainer = algos.make("ippo", env, uneven, concurrent_cfgs(), 3 * 10**5)
    assert trainer.env_steps_per_update == 32 * 4 + 32 * 8


def test_a_log_row_weights_each_behaviours_episode_means_by_its_own_episodes():
    from experiments.core.training import summarise

    row = summarise(
        {
            "episodes_Shooter": np.array([0, 4]),
            "episode_return_Shooter": np.array([0.0, 0.5]),
            "episodes_Keeper": np.array([1, 3]),
            "episode_return_Keeper": np.array([-1.0, 0.0]),
            "loss": np.array([1.0, 3.0]),
        }
    )
    assert row == {
        "episodes_Shooter": 4.0,
        "episode_return_Shooter": 0.5,  # the update that finished no episode does not count
        "episodes_Keeper": 4.0,
        "episode_return_Keeper": -0.25,
        "loss": 2.0,
    }


def test_the_cli_turns_on_concurrent_learning_and_sets_a_behaviours_algorithm():
    from experiments.core.build import build
    from tests.tiny import config

    cfg = config(
        "env=strikers_vs_goalie",
        "algo=ippo",
        "env.selfplay.concurrent=true",
        "+algo.behaviours.Goalie.learning_rate=1.0e-4",
    )
    _, trainer = build(cfg)
    striker, goalie = trainer.learners
    assert isinstance(trainer, ConcurrentTrainer)
    assert (striker.cfg.learning_rate, goalie.cfg.learning_rate) == (3.0e-4, 1.0e-4)
    with pytest.raises(ValueError, match=r"algo.behaviours names Keeper; .* Striker, Goalie"):
        build(config("env=strikers_vs_goalie", "+algo.behaviours.Keeper.learning_rate=0.1"))
