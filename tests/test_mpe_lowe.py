"""Lowe et al.'s MADDPG-vs-DDPG study on JaxMARL's MPE: what its metrics read from the
rewards, how long an episode is, that the ``lowe`` preset trains its pairings as ordinary runs
and plays them against each other (redoing nothing when rerun), and what the report says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("jaxmarl")

from analysis import lowe
from experiments.core import crossplay, training
from experiments.core.config import compose
from experiments.core.players import load_run
from experiments.reproduce import planned_runs
from tests import studies

TINY = [  # the reference's settings, shrunk to seconds
    "algo.num_envs=4",
    "algo.learning_starts=64",
    "algo.buffer_size=512",
    "algo.batch_size=16",
    "algo.hidden=[8]",
    "algo.critic_hidden=[8]",
]


def scene(env_id: str, positions: list[tuple[float, float]], **fields):
    """The task's state after a reset with entities moved to ``positions`` (agents first,
    then landmarks, as MPE orders them) and at rest."""
    from envs.jaxmarl import JaxMARLEnv

    env = JaxMARLEnv(env_id, None)
    _, state = env.inner.reset(jax.random.PRNGKey(0))
    pos = jnp.asarray(positions, jnp.float32)
    return env, state.replace(p_pos=pos, p_vel=jnp.zeros_like(pos), **fields)


def test_predators_are_paid_ten_per_contact_so_touches_are_their_return_over_ten():
    # Prey at the origin; two of the three predators touch it (radii 0.075 + 0.05), one is far.
    positions = [(0.1, 0.0), (0.0, -0.1), (0.9, 0.9), (0.0, 0.0), (-0.8, 0.8), (0.8, -0.8)]
    env, state = scene(crossplay.TASKS["predator_prey"], positions)
    reward = env.inner.rewards(state)
    assert [float(reward[f"adversary_{i}"]) for i in range(3)] == [20.0, 20.0, 20.0]
    # Over a whole episode of such steps, each predator's return / 10 counts the contacts.
    touches = crossplay.task_metrics("predator_prey", 20.0 * crossplay.EPISODE, 0.0)["touches"]
    assert touches == pytest.approx(2 * crossplay.EPISODE)


def test_deception_returns_give_back_each_sides_distance_to_the_target():
    # Target landmark 0 at the origin; the adversary 1.0 from it, the good agents 0.2 and 0.5.
    positions = [(1.0, 0.0), (0.0, 0.2), (-0.5, 0.0), (0.0, 0.0), (0.9, 0.9)]
    env, state = scene(crossplay.TASKS["physical_deception"], positions, goal=jnp.int32(0))
    reward = env.inner.rewards(state)
    adversary, agent = float(reward["adversary_0"]), float(reward["agent_0"])
    assert adversary == pytest.approx(-1.0) and agent == pytest.approx(1.0 - 0.2)
    metrics = crossplay.task_metrics(
        "physical_deception", adversary * crossplay.EPISODE, agent * crossplay.EPISODE
    )
    assert metrics == pytest.approx({"adversary_distance": 1.0, "agent_distance": 0.2})


def test_an_mpe_episode_lasts_the_decisions_the_metrics_divide_by():
    from envs.jaxmarl import JaxMARLEnv

    env = JaxMARLEnv(crossplay.TASKS["physical_deception"], None)
    _, state = env.reset(jax.random.PRNGKey(0))
    actions = jnp.zeros((env.spec.num_agents, 1), jnp.int32)
    for decision in range(1, 2 * crossplay.EPISODE):
        _, state, _, done, _ = env.step(jax.random.PRNGKey(decision), state, actions)
        if bool(done.all()):
            break
    assert decision == crossplay.EPISODE


def reproduce(out_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """The ``lowe`` preset on predator-prey: MADDPG predators against DDPG prey, two seeds in
    one process (one compile), tiny budgets."""
    run_overrides = [
        "+experiment=lowe_maddpg_mpe",
        "total_env_steps=800",  # 400 per team
        "chunk_env_steps=80",  # ten updates of both teams per logged row
        "logging.wandb=false",
        "logging.progress=false",
        *TINY,
    ]
    return studies.reproduce(
        "lowe",
        out_dir,
        run_overrides,
        "preset.seeds=[0,1]",
        "+preset.seeds_per_process=2",
        "~preset.envs.physical_deception",
        "~preset.lines.maddpg_vs_maddpg",
        "~preset.lines.ddpg_vs_maddpg",
        "~preset.lines.ddpg_vs_ddpg",
        "preset.crossplay.episodes=8",
        *overrides,
    )


def test_the_lowe_preset_trains_pairings_plays_them_across_and_reports(tmp_path):
    done = reproduce(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = tmp_path / "runs" / "predator_prey"
    # Each pairing is what `python -m experiments.run` with the line's overrides trains.
    config = json.loads((runs / "maddpg_vs_ddpg" / "seed0" / "config.json").read_text())
    assert config["algo"]["behaviours"] == {
        "adversary": {"critic": "central"},
        "agent": {"critic": "local"},
    }
    assert config["env"]["selfplay"]["concurrent"]
    assert config["env"]["options"]["continuous"] is False
    result = json.loads((tmp_path / "crossplay" / "predator_prey.json").read_text())
    assert (result["task"], result["actions"], result["env_steps_per_team"]) == (
        "predator_prey",
        "discrete",
        400,
    )
    assert sorted((r["adversary"], r["agent"], r["seed"]) for r in result["runs"]) == [
        ("maddpg", "ddpg", 0),
        ("maddpg", "ddpg", 1),
    ]
    assert all(len(r["curve"]["adversary"]) == 10 for r in result["runs"])
    # Every run's predators against every run's prey: 2 as trained, 2 across runs.
    pairings = result["pairings"]
    assert sorted((p["adversary_run"][2], p["agent_run"][2]) for p in pairings) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert [p["same_run"] for p in pairings] == [
        p["adversary_run"] == p["agent_run"] for p in pairings
    ]
    for r in [*pairings, *result["against_random"], result["both_random"]]:  # from real play
        assert r["touches"] == pytest.approx(r["adversary_return"] / 10.0) and r["touches"] >= 0
    assert [(r["side"], r["algo"]) for r in result["against_random"]] == [
        ("adversary", "maddpg"),
        ("agent", "ddpg"),
    ] * 2
    text = (tmp_path / "tables" / "lowe.md").read_text()
    assert "| MADDPG | DDPG | 2 |" in text and "| predators | touches |" in text
    # A second invocation finds every stage done and redoes nothing.
    made = {p: p.stat().st_mtime for p in tmp_path.glob("**/*") if p.suffix in (".json", ".log")}
    again = reproduce(tmp_path, "stages=[train,crossplay]")
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime for p in made} == made


def test_a_run_that_is_not_a_pairing_is_refused_with_what_to_set(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"algo": {"name": "maddpg"}, "seed": 0}))
    with pytest.raises(ValueError, match=r"not a Lowe pairing.*behaviours"):
        crossplay.pairing(tmp_path)


def test_report_puts_the_papers_figures_beside_the_pairings_trained_together():
    pairings = [
        dict(
            adversary=a,
            agent=g,
            same_run=same,
            touches=t,
            adversary_distance=1.0,
            agent_distance=0.5,
            agent_return=13.0,
        )
        for (a, g), t in zip(lowe.combos(), (12.0, 15.0, 9.0, 8.0), strict=True)
        for same in (True, False)
    ]
    results = [
        dict(
            task=task,
            env_id=crossplay.TASKS[task],
            env_steps_per_team=10,
            episodes=5,
            pairings=pairings,
        )
        for task in crossplay.TASKS
    ]
    text = lowe.report(results)
    assert "| MADDPG | DDPG | 1 | 15.00 | 16.1 |" in text
    assert "| DDPG | MADDPG | 1 | 9.00 | 10.3 |" in text
    assert "| MADDPG | MADDPG | 1 | 12.00 | not retrieved |" in text  # never an invented figure
    assert "| MADDPG | DDPG | 1 | 15.00 | |" in text  # cross-play: the paper has no such row
    assert "| MADDPG | MADDPG | 1 | 1.00 | 0.500 |" in text and "94%" in text


def test_head_to_head_compares_each_roles_algorithms_against_the_same_opponents():
    # Cross-play touches: MADDPG predators touch more than DDPG predators against either prey,
    # and MADDPG prey are touched less. The runs' own pairings say the opposite and must not
    # count (they are not played against the same opponents).
    cross = {("maddpg", "maddpg"): 2.0, ("maddpg", "ddpg"): 4.0, ("ddpg", "maddpg"): 1.0}
    cross[("ddpg", "ddpg")] = 3.0
    pairings = [
        dict(adversary=a, agent=g, same_run=False, touches=t) for (a, g), t in cross.items()
    ] + [dict(adversary=a, agent=g, same_run=True, touches=9.0 * (a == "ddpg")) for a, g in cross]
    predators, prey = lowe.head_to_head("predator_prey", pairings)
    assert (predators["role"], predators["maddpg"], predators["ddpg"]) == ("predators", 3.0, 2.0)
    assert predators["better"] == "maddpg"
    assert (prey["maddpg"], prey["ddpg"], prey["better"]) == (1.5, 3.5, "maddpg")
    # Deception: the adversary wants a short distance, the agents a high return.
    deception = [
        dict(adversary=a, agent=g, same_run=False, adversary_distance=d, agent_return=r)
        for (a, g), d, r in zip(
            lowe.combos(), (0.5, 0.3, 0.6, 0.4), (1.0, 2.0, 0.0, 3.0), strict=True
        )
    ]
    adversary, agents = lowe.head_to_head("physical_deception", deception)
    assert (adversary["maddpg"], adversary["ddpg"], adversary["better"]) == (0.4, 0.5, "maddpg")
    assert (agents["maddpg"], agents["ddpg"], agents["better"]) == (0.5, 2.5, "ddpg")
    text = lowe.report(
        [
            dict(
                task="predator_prey",
                env_id=crossplay.TASKS["predator_prey"],
                env_steps_per_team=10,
                episodes=5,
                pairings=pairings,
            )
        ]
    )
    assert "| prey | touches (lower is better) | 1.500 | 3.500 | MADDPG |" in text


def test_continuous_actions_are_mpe_forces_that_match_its_discrete_pushes_on_the_axes():
    from envs.base import Box
    from envs.jaxmarl import JaxMARLEnv

    # Agents and landmarks far apart and at rest, so no contact force interferes.
    positions = [(-0.8, -0.8), (0.8, -0.8), (-0.8, 0.8), (0.8, 0.8), (0.0, 0.4), (0.0, -0.4)]
    discrete, state = scene(crossplay.TASKS["predator_prey"], positions)
    continuous = JaxMARLEnv(crossplay.TASKS["predator_prey"], None, continuous=True)
    assert continuous.spec.action_space == Box(-1.0, 1.0, (2,))
    assert continuous.spec.behaviours[0].action_space == Box(-1.0, 1.0, (2,))
    key = jax.random.PRNGKey(1)
    # MPE's discrete pushes: 2 = +x, 3 = -y, 0 = none, 1 = -x
    _, pushed, *_ = discrete.step_env(key, state, jnp.array([[2], [3], [0], [1]]))
    forces = jnp.array([[1.0, 0.0], [0.0, -1.0], [0.0, 0.0], [-1.0, 0.0]])
    _, forced, *_ = continuous.step_env(key, state, forces)
    np.testing.assert_allclose(forced.p_vel, pushed.p_vel, atol=1e-6)
    assert float(jnp.abs(forced.p_vel[0, 0])) > 0.0  # it did move
    # A force between the axes moves an agent along it, in proportion.
    _, half, *_ = continuous.step_env(key, state, forces.at[2].set(jnp.array([-0.5, 0.5])))
    vx, vy = (float(v) for v in half.p_vel[2])
    unit = float(forced.p_vel[0, 0])  # the same agent kind's velocity from a unit push
    assert vx == pytest.approx(-vy) and vx == pytest.approx(-0.5 * unit, rel=1e-5)
    with pytest.raises(ValueError, match="continuous actions are MPE's mode"):
        JaxMARLEnv("SMAX", "3m", continuous=True)


def test_a_pairing_trains_and_plays_with_continuous_forces(tmp_path):
    preset = compose(["preset=lowe_continuous"], "reproduce").preset
    folder, overrides = next(
        (d, o) for d, o in planned_runs(preset, tmp_path) if "physical_deception" in str(d)
    )
    training.train(compose([*overrides, *TINY, "total_env_steps=400"]), folder)
    env, trainer, params = load_run(folder)
    assert env.spec.action_space.shape == (2,)
    assert json.loads((folder / "config.json").read_text())["env"]["options"]["continuous"] is True
    adversary, agent = crossplay.team_returns(
        env, trainer.team_policy.policies, (params, params), jax.random.PRNGKey(0), 4
    )
    metrics = crossplay.task_metrics("physical_deception", adversary, agent)
    assert 0.0 < metrics["adversary_distance"] < 5.0  # a distance, paid every decision


def test_a_random_team_acts_in_the_action_space_and_the_report_sets_runs_against_it():
    from envs.jaxmarl import JaxMARLEnv

    for continuous in (False, True):
        env = JaxMARLEnv(crossplay.TASKS["predator_prey"], None, continuous)
        acts = crossplay.random_team(env)(None, jnp.zeros((3, 16)), jax.random.PRNGKey(0))
        assert acts.shape == (3, *env.spec.action_space.shape)
        assert bool(env.spec.action_space.contains(acts))
        assert len({tuple(np.asarray(a).ravel()) for a in acts}) > 1  # not one fixed action
    rows = [
        dict(side=side, algo=algo, touches=t)
        for side, algo, t in (
            ("adversary", "maddpg", 5.0),
            ("adversary", "maddpg", 4.0),
            ("adversary", "ddpg", 3.0),
            ("agent", "maddpg", 0.1),
            ("agent", "ddpg", 0.3),
        )
    ]
    result = dict(
        task="predator_prey",
        env_id=crossplay.TASKS["predator_prey"],
        env_steps_per_team=10,
        episodes=5,
        pairings=[],
        against_random=rows,
        both_random={"touches": 0.4},
    )
    text = lowe.report([result])
    assert "| predators | touches | 4.500 | 3.000 | 0.400 |" in text
    assert "| prey | touches | 0.100 | 0.300 | 0.400 |" in text
