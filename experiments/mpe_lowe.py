"""Lowe et al. (2017)'s MADDPG-vs-DDPG comparisons on JaxMARL's MPE mixed tasks.

    pip install -e ".[bench]"
    python -m experiments.mpe_lowe --env-steps 1500000 --seeds 0 --out mpe_lowe

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
``python -m experiments.run +experiment=lowe_maddpg_mpe`` with the pairing's overrides
(``run_overrides``), in its own run directory (checkpoints, logs, resume; a finished one is
read back). Settings are the reference's (openai/maddpg ``train.py`` defaults,
``conf/experiment/lowe_maddpg_mpe.yaml``): Adam lr 1e-2, gamma 0.95, batch 1024, buffer 1e6,
2 x 64 ReLU, tau 0.01, gradient-norm clip 0.5, one gradient step per 100 env steps after
1024 x 25 transitions, 60,000 episodes (1.5M env steps) per team, no ensembles. Each run is
then evaluated with the policies it trained (``as trained``) and every run's adversary team
against every run's good team (``cross-play``). The head-to-head verdict (``head_to_head``)
compares, role by role, MADDPG's and DDPG's teams against the same opponents: the other
runs' teams of the opposing role.

Actions: JaxMARL's MPE takes five discrete pushes by default (none, or a full push along one
axis), and the straight-through Gumbel-Softmax actor sends the env a one-hot push. The
reference sent its soft Gumbel-Softmax sample, which MPE applies as a force anywhere in the
square; ``--actions continuous`` trains with that (MPE's ``Continuous`` mode through
``envs.jaxmarl``, a ``tanh`` actor with Gaussian noise), to tell whether the action mode
explains a gap to the paper.

The report is ``analysis.lowe.report``. The published figures beside ours are those of the
paper's main text (``analysis.lowe.PUBLISHED_TOUCHES``, ``PUBLISHED_DECEPTION``); its
appendix tables (every pairing) could not be read from this machine, so those cells say "not
retrieved" instead of a number.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
from omegaconf import DictConfig, OmegaConf

from algos.trainer import Trainer
from analysis.formats import EVAL_FILE, read_metrics
from analysis.lowe import ALGOS, combos, report
from envs import match
from envs.jaxmarl import JaxMARLEnv
from envs.policy import Policy
from experiments.core import training
from experiments.core.build import build
from experiments.core.config import compose, experiment_algo
from experiments.core.players import load_run

TASKS = {"predator_prey": "MPE_simple_tag_v3", "physical_deception": "MPE_simple_adversary_v3"}
EPISODE = 26  # decisions per JaxMARL MPE episode: max_steps 25, done read before the step
CRITICS = dict(zip(ALGOS, ("central", "local"), strict=True))  # DDPG: MADDPG, local critic
EXPERIMENT = "lowe_maddpg_mpe"  # conf/experiment/: openai/maddpg's train.py defaults, ours
LOWE_MADDPG: dict[str, Any] = experiment_algo(EXPERIMENT)


def run_overrides(
    task: str, adversary: str, agent: str, seed: int, env_steps: int, continuous: bool = False
) -> list[str]:
    """``python -m experiments.run`` overrides of one pairing on ``task``: ``adversary`` and
    ``agent`` teams (``maddpg`` or ``ddpg``) learning together for ``env_steps`` each;
    ``continuous``: MPE's continuous forces (the reference's soft actions)."""
    for name in (adversary, agent):
        if name not in CRITICS:
            raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(CRITICS)}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    return [
        f"+experiment={EXPERIMENT}",
        f"env.options.env_id={TASKS[task]}",
        f"env.options.continuous={str(continuous).lower()}",
        f"+algo.behaviours.adversary.critic={CRITICS[adversary]}",
        f"+algo.behaviours.agent.critic={CRITICS[agent]}",
        f"seed={seed}",
        f"total_env_steps={2 * env_steps}",  # both teams collect in every update
    ]


def composed(overrides: list[str], cfg: dict[str, Any] | None) -> DictConfig:
    """The run's config; ``cfg``: algorithm settings over the experiment's (tests shrink it)."""
    config = compose(overrides)
    if cfg is not None:
        config.algo = OmegaConf.merge(config.algo, cfg)
    return config


def make_trainer(
    task: str,
    adversary: str,
    agent: str,
    env_steps: int,
    cfg: dict[str, Any] | None = None,
    continuous: bool = False,
) -> tuple[JaxMARLEnv, Trainer]:
    """``task``'s env and the trainer of one pairing (``run_overrides``)."""
    overrides = run_overrides(task, adversary, agent, 0, env_steps, continuous)
    return build(composed(overrides, cfg))


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


def trained_run(
    task: str,
    adversary: str,
    agent: str,
    seed: int,
    env_steps: int,
    folder: Path,
    cfg: dict[str, Any] | None = None,
    continuous: bool = False,
    chunk_env_steps: int = 102_400,
) -> dict[str, Any]:
    """One pairing trained by ``experiments.run``'s loop into the run directory ``folder``
    (checkpoints, logs, resume), or read back from it when finished: a killed study loses at
    most the chunks since the run's last checkpoint. ``curve``: per chunk of
    ``chunk_env_steps``, each team's mean return of the episodes it finished, or None."""
    if not (folder / EVAL_FILE).exists():
        overrides = run_overrides(task, adversary, agent, seed, env_steps, continuous)
        started = (folder / "checkpoints").is_dir() and any((folder / "checkpoints").iterdir())
        overrides += [
            f"chunk_env_steps={chunk_env_steps}",
            "logging.wandb=false",
            "logging.progress=false",
            *([f"resume={folder}"] if started else []),
        ]
        training.train(composed(overrides, cfg), folder)
        jax.clear_caches()  # one compiled training program per run: do not keep them all
    env, trainer, params = load_run(folder)
    rows = read_metrics(folder)
    curve = {
        k: [None if r[f"episodes_{k}"] == 0 else round(r[f"episode_return_{k}"], 4) for r in rows]
        for k in ("adversary", "agent")
    }
    wall_s = json.loads((folder / EVAL_FILE).read_text())["train_wall_s"]
    return dict(env=env, trainer=trainer, params=params, wall_s=wall_s, curve=curve)


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


def run_task(
    task: str,
    seeds: list[int],
    env_steps: int,
    episodes: int,
    out: Path,
    cfg: dict[str, Any] | None = None,
    continuous: bool = False,
) -> dict[str, Any]:
    """Train every combination and seed of ``task`` (each a run directory under
    ``out/<task>/``, with ``_continuous`` for MPE's continuous actions); evaluate each as
    trained and in cross-play (every run's adversaries against every run's agents)."""
    runs = {}
    suffix = "_continuous" if continuous else ""
    for (adversary, agent), seed in itertools.product(combos(), seeds):
        name = f"{adversary}_vs_{agent}_seed{seed}{suffix}"
        runs[(adversary, agent, seed)] = trained_run(
            task,
            adversary,
            agent,
            seed,
            env_steps,
            out / task / name,
            cfg,
            continuous,
        )
    env = next(iter(runs.values()))["env"]
    policies = next(iter(runs.values()))["trainer"].team_policy.policies
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
        "actions": "continuous" if continuous else "discrete",
        "env_steps_per_team": env_steps,
        "episodes": episodes,
        "runs": [
            {"adversary": a, "agent": g, "seed": s, "wall_s": r["wall_s"], "curve": r["curve"]}
            for (a, g, s), r in runs.items()
        ],
        "pairings": cross,
        "against_random": against_random,
        "both_random": both_random,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--env-steps", type=int, default=1_500_000, help="per team")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--episodes", type=int, default=1000, help="per evaluated pairing")
    parser.add_argument("--out", default="mpe_lowe", help="folder for results.json, report.md")
    parser.add_argument(
        "--actions",
        choices=("discrete", "continuous"),
        default="discrete",
        help="MPE's discrete pushes (JaxMARL's default) or continuous forces (the reference's)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    continuous = args.actions == "continuous"
    suffix = "_continuous" if continuous else ""
    results = []
    for task in args.tasks:
        results.append(
            run_task(task, args.seeds, args.env_steps, args.episodes, out, None, continuous)
        )
        (out / f"{task}{suffix}.json").write_text(json.dumps(results[-1], indent=1))
    text = report(results)
    (out / f"report{suffix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
