"""Cross-play of Lowe et al. (2017)'s MADDPG-vs-DDPG pairings on JaxMARL's MPE mixed tasks:
the measures, and the ``crossplay`` stage of the ``lowe`` preset.

    pip install -e ".[bench]"
    python -m experiments.reproduce preset=lowe [preset.seeds=[0,1,2]]
    python -m experiments.reproduce preset=lowe_continuous   # MPE's continuous forces

The paper (arXiv 1706.02275, section 5 and appendix) trains each pairing of algorithms
together, one per team, and compares them head to head:

- **predator-prey** (``MPE_simple_tag_v3``: 3 slower predators, the ``adversary`` team, chase
  1 faster prey, the ``agent`` team, around 2 landmarks): the number of times predators touch
  the prey per episode. JaxMARL pays every predator ``10 x`` the episode's contacts (summed
  over predators), so touches per episode = a predator's episode return / 10.
- **physical deception** (``MPE_simple_adversary_v3``: 2 cooperating agents, 1 adversary that
  does not know which of 2 landmarks is the target): the adversary's mean distance to the
  target (its reward is minus that distance every step, so = -return / steps) and the good
  agents' nearest distance (their reward is the adversary's distance minus their nearest one,
  so = adversary distance - good return / steps).

JaxMARL's MPE plays 26 decisions per episode (``done = state.step >= max_steps`` is read
before the step count moves), the reference 25: touches are per JaxMARL episode (~4% more
time), distances per step.

Every combination (MADDPG or DDPG predators/adversary x MADDPG or DDPG prey/agents) trains
in ``concurrent`` mode (``algos.trainer.ConcurrentTrainer``: both teams learn in every update
against each other's current policy), DDPG being our MADDPG with ``critic: local``
(``algo.behaviours.<team>.critic``). Each pairing is an ordinary run of the package's loop,
``python -m experiments.run +experiment=lowe_maddpg_mpe`` with the pairing's overrides (the
preset's ``lines``, ``conf/preset/lowe.yaml``), in its own run directory (checkpoints, logs,
resume). Settings are the reference's (openai/maddpg ``train.py`` defaults,
``conf/experiment/lowe_maddpg_mpe.yaml``): Adam lr 1e-2, gamma 0.95, batch 1024, buffer 1e6,
2 x 64 ReLU, tau 0.01, gradient-norm clip 0.5, one gradient step per 100 env steps after
1024 x 25 transitions, 60,000 episodes (1.5M env steps) per team, no ensembles. Each run is
then evaluated with the policies it trained (``as trained``) and every run's adversary team
against every run's good team (``cross-play``, ``crossplay``). The head-to-head verdict
(``analysis.lowe.head_to_head``) compares, role by role, MADDPG's and DDPG's teams against the
same opponents: the other runs' teams of the opposing role.

Actions: JaxMARL's MPE takes five discrete pushes by default (none, or a full push along one
axis), and the straight-through Gumbel-Softmax actor sends the env a one-hot push. The
reference sent its soft Gumbel-Softmax sample, which MPE applies as a force anywhere in the
square; the ``lowe_continuous`` preset trains with that (MPE's ``Continuous`` mode through
``envs.jaxmarl``, a ``tanh`` actor with Gaussian noise), to tell whether the action mode
explains a gap to the paper.

The report is ``analysis.lowe.report``. The published figures beside ours are those of the
paper's main text (``analysis.lowe.PUBLISHED_TOUCHES``, ``PUBLISHED_DECEPTION``); its
appendix tables (every pairing) could not be read from this machine, so those cells say "not
retrieved" instead of a number.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from analysis.formats import CONFIG_FILE, EVAL_FILE, read_metrics
from analysis.lowe import ALGOS
from envs import match
from envs.jaxmarl import JaxMARLEnv
from envs.policy import Policy
from experiments.core.players import load_run

TASKS = {"predator_prey": "MPE_simple_tag_v3", "physical_deception": "MPE_simple_adversary_v3"}
EPISODE = 26  # decisions per JaxMARL MPE episode: max_steps 25, done read before the step
CRITICS = dict(zip(ALGOS, ("central", "local"), strict=True))  # DDPG: MADDPG, local critic


def team_returns(
    env: JaxMARLEnv,
    policies: tuple[Any, ...],
    params: tuple[Any, Any],
    key: jax.Array,
    episodes: int,
) -> tuple[float, float]:
    """Mean episode return of one adversary and of one good agent over ``episodes`` parallel
    episodes, the adversary team playing ``policies[0]`` with a run's ``params[0]`` and the
    good team ``policies[1]`` with ``params[1]`` (the same run's or another's; ``None`` for a
    team that plays ``random_team``). MADDPG and DDPG differ only in their critics, so one
    trainer's team policies play every run's actors (and one compiled match serves every
    pairing)."""
    spec = env.spec
    team_params = [None if params[t] is None else params[t][spec.team_behaviour[t]] for t in (0, 1)]
    result = match.play(env, policies, key, episodes, EPISODE, params=team_params)
    if not result.done[-1].all():
        raise RuntimeError(f"{env.env_id}: episodes did not end after {EPISODE} decisions")
    returns = result.episode_return[-1]  # [episodes, agents]
    adversary, agent = (np.asarray(spec.team_agents(t)) for t in range(2))
    return float(returns[:, adversary].mean()), float(returns[:, agent].mean())


def random_team(env: JaxMARLEnv) -> Policy:
    """A team acting uniformly at random in the env's action space: the yardstick that tells
    how much each trained team learned (a trained side against it, and it against them)."""

    def act(params: Any, obs: jax.Array, key: jax.Array) -> jax.Array:
        del params
        return env.spec.action_space.sample(key, obs.shape[:1])

    return act


def task_metrics(task: str, adversary_return: float, agent_return: float) -> dict[str, float]:
    """What the paper measures, from the episode returns (see the module docstring)."""
    if task == "predator_prey":
        return {"touches": adversary_return / 10.0}
    adversary_distance = -adversary_return / EPISODE
    return {
        "adversary_distance": adversary_distance,
        "agent_distance": adversary_distance - agent_return / EPISODE,
    }


def pairing(run_dir: Path) -> tuple[str, str, int, dict[str, Any]]:
    """A finished pairing's ``(adversary algorithm, agents' algorithm, seed)`` and its config,
    read from its run directory (each team's critic says MADDPG or DDPG)."""
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    by_critic = {critic: algo for algo, critic in CRITICS.items()}
    teams = config["algo"].get("behaviours") or {}
    try:
        algos = [by_critic[teams[team]["critic"]] for team in ("adversary", "agent")]
    except KeyError as missing:
        raise ValueError(
            f"{run_dir} is not a Lowe pairing: it sets no {missing} critic "
            "(+algo.behaviours.<adversary|agent>.critic=central|local)"
        ) from None
    return algos[0], algos[1], int(config["seed"]), config


def random_yardstick(
    task: str,
    env: JaxMARLEnv,
    policies: tuple[Any, ...],
    runs: dict[tuple[str, str, int], dict[str, Any]],
    key: jax.Array,
    episodes: int,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Each run's adversary team against random agents and its agents against a random
    adversary team (one row each: ``side`` is the trained team), and two random teams."""
    rand = random_team(env)

    def row(adversary: Policy, agent: Policy, params: tuple[Any, Any]) -> dict[str, Any]:
        ret = team_returns(env, (adversary, agent), params, key, episodes)
        return dict(adversary_return=ret[0], agent_return=ret[1], **task_metrics(task, *ret))

    rows = []
    for r, run in runs.items():
        rows.append(
            dict(run=list(r), side="adversary", algo=r[0])
            | row(policies[0], rand, (run["params"], None))
        )
        rows.append(
            dict(run=list(r), side="agent", algo=r[1])
            | row(rand, policies[1], (None, run["params"]))
        )
    return rows, row(rand, rand, (None, None))


def crossplay(run_dirs: list[Path], episodes: int) -> dict[str, Any]:
    """The finished pairings of one task (run directories), each evaluated as trained and in
    cross-play (every run's adversaries against every run's agents), and against random
    teams: what ``analysis.lowe.report`` reads."""
    runs, configs = {}, {}
    for run_dir in run_dirs:
        adversary, agent, seed, config = pairing(run_dir)
        env, trainer, params = load_run(run_dir)
        rows = read_metrics(run_dir)
        curve = {
            k: [
                None if r[f"episodes_{k}"] == 0 else round(r[f"episode_return_{k}"], 4)
                for r in rows
            ]
            for k in ("adversary", "agent")
        }
        wall_s = json.loads((run_dir / EVAL_FILE).read_text())["train_wall_s"]
        runs[(adversary, agent, seed)] = dict(params=params, wall_s=wall_s, curve=curve)
        configs[(adversary, agent, seed)] = config
    options = next(iter(configs.values()))["env"]["options"]
    kinds = {
        (c["env"]["options"]["env_id"], c["env"]["options"]["continuous"]) for c in configs.values()
    }
    if len(kinds) > 1:
        raise ValueError(
            f"cross-play needs one task and action mode; the runs have {sorted(kinds)}"
        )
    task = {env_id: name for name, env_id in TASKS.items()}[options["env_id"]]
    policies = trainer.team_policy.policies  # MADDPG and DDPG differ only in their critics
    key = jax.random.PRNGKey(10_000)
    cross = []
    for (a_run, a), (g_run, g) in itertools.product(runs.items(), runs.items()):
        ret = team_returns(env, policies, (a["params"], g["params"]), key, episodes)
        cross.append(
            dict(
                adversary=a_run[0],
                agent=g_run[1],
                adversary_run=list(a_run),
                agent_run=list(g_run),
                same_run=a_run == g_run,
                adversary_return=ret[0],
                agent_return=ret[1],
                **task_metrics(task, *ret),
            )
        )
    against_random, both_random = random_yardstick(task, env, policies, runs, key, episodes)
    return {
        "task": task,
        "env_id": TASKS[task],
        "actions": "continuous" if options["continuous"] else "discrete",
        "env_steps_per_team": int(next(iter(configs.values()))["total_env_steps"]) // 2,
        "episodes": episodes,
        "runs": [
            {"adversary": a, "agent": g, "seed": s, "wall_s": r["wall_s"], "curve": r["curve"]}
            for (a, g, s), r in runs.items()
        ],
        "pairings": cross,
        "against_random": against_random,
        "both_random": both_random,
    }
