"""Published baselines on JaxMARL's MPE, side by side with ours, in one report.

    pip install -e ".[bench]"
    python -m experiments.mpe_baselines --env-steps 2000000 --seeds 0 1 2 --out mpe_report

**IPPO on ``MPE_simple_spread_v3``** (cooperative: 3 agents, one team, no ghost). Both loops
use JaxMARL's configuration (``baselines/IPPO/config/ippo_ff_mpe.yaml`` at FLAIROx/JaxMARL
c793d09: 16 envs x 128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed to 0, entropy
0.01, clip 0.2, value 0.5, grad norm 0.5, gamma 0.99, lambda 0.95, separate 2 x 64 tanh actor
and critic shared by the agents; ``TOTAL_TIMESTEPS`` 1e7 vectorised env steps, 2e6 before
2024-03):

- ``jaxmarl``: JaxMARL's IPPO-FF loop (``experiments.bench.vs_jaxmarl.jaxmarl_style_ippo``) on
  JaxMARL's env wrapped in JaxMARL's ``MPELogWrapper``, logging what its script logs:
  ``returned_episode_returns`` (each agent's reward x 3, so the team's summed return),
  averaged over every step of the rollout;
- ``ours``: ``algos.ippo`` through ``envs.jaxmarl`` with the same settings, logging the mean
  over finished episodes of the agents' returns, x 3 (the same summed team return).

The published curve (JaxMARL paper, arXiv 2311.10090, appendix figure of the MPE baselines)
could not be read from this machine; ``PUBLISHED`` holds what is known and the report says
so rather than inventing a number.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import jax
import numpy as np

import algos
from algos.selfplay import SelfPlayConfig
from algos.trainer import scan_updates
from envs.jaxmarl import JaxMARLEnv, make_jaxmarl
from experiments.bench.vs_jaxmarl import DEFAULTS, jaxmarl_style_ippo

SPREAD = "MPE_simple_spread_v3"
# ippo_ff_mpe.yaml in our key names: the IPPO-FF defaults of the side-by-side benchmark
# (64 x 2 tanh, 4 epochs x 4 minibatches, lr 2.5e-4, ...) with MPE's 16 envs.
JAXMARL_IPPO_MPE = DEFAULTS | {"num_envs": 16}
PUBLISHED = {
    "source": "JaxMARL (arXiv 2311.10090), appendix figure of the MPE IPPO baselines",
    "return": None,  # not retrievable here; see the module docstring
}


def updates_for(env_steps: int, cfg: dict[str, Any]) -> int:
    """JaxMARL's ``NUM_UPDATES = TOTAL_TIMESTEPS // NUM_STEPS // NUM_ENVS``."""
    return max(1, env_steps // cfg["rollout_len"] // cfg["num_envs"])


def run_jaxmarl(seed: int, updates: int, cfg: dict[str, Any]) -> np.ndarray:
    """Per-update logged return of JaxMARL's loop on JaxMARL's wrapped env."""
    from jaxmarl.wrappers.baselines import MPELogWrapper

    env = MPELogWrapper(make_jaxmarl(SPREAD))
    init, update, _ = jaxmarl_style_ippo(env, cfg | {"anneal_updates": updates})
    run = jax.jit(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length=updates))
    _, metrics = run(init(jax.random.PRNGKey(seed)))
    return np.asarray(metrics["returned_episode_returns"])


def run_ours(seed: int, updates: int, cfg: dict[str, Any]) -> np.ndarray:
    """Per-update mean team return (agents summed) of our IPPO on the adapter; NaN for an
    update in which no episode finished."""
    env = JaxMARLEnv(SPREAD, None)
    total = updates * cfg["num_envs"] * cfg["rollout_len"]
    trainer = algos.make("ippo", env, cfg | {"anneal_lr": True}, SelfPlayConfig.mlagents(), total)
    run = jax.jit(scan_updates(trainer, updates))
    _, metrics = run(trainer.init(jax.random.PRNGKey(seed)))
    returns = np.asarray(metrics["episode_return"]) * env.spec.num_agents
    return np.where(np.asarray(metrics["episodes"]) > 0, returns, np.nan)


def final_window(curve: np.ndarray, fraction: float = 0.1) -> float:
    """The mean of the last ``fraction`` of a curve's updates (the end of training)."""
    tail = curve[-max(1, math.ceil(fraction * len(curve))) :]
    return float(np.nanmean(tail))


def report(results: dict[str, dict[int, np.ndarray]], env_steps: int) -> str:
    """A Markdown table: each loop's final return per seed and over seeds, and the published
    figure beside them."""
    lines = [
        f"IPPO on {SPREAD}, JaxMARL's configuration, {env_steps:,} env steps "
        "(team return summed over the 3 agents; mean of the last 10% of updates)",
        "",
        "| loop | seeds | final return per seed | mean |",
        "|---|---:|---|---:|",
    ]
    for loop, curves in results.items():
        finals = [final_window(c) for c in curves.values()]
        per_seed = ", ".join(f"{f:.1f}" for f in finals)
        lines.append(f"| {loop} | {len(finals)} | {per_seed} | {np.mean(finals):.1f} |")
    published = PUBLISHED["return"]
    lines.append(
        f"| published ({PUBLISHED['source']}) | | | "
        + ("not retrieved |" if published is None else f"{published} |")
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="mpe_report", help="folder for curves.json, report.md")
    args = parser.parse_args(argv)
    cfg = dict(JAXMARL_IPPO_MPE)
    updates = updates_for(args.env_steps, cfg)
    results: dict[str, dict[int, np.ndarray]] = {"jaxmarl": {}, "ours": {}}
    for seed in args.seeds:
        results["jaxmarl"][seed] = run_jaxmarl(seed, updates, cfg)
        results["ours"][seed] = run_ours(seed, updates, cfg)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env_steps = updates * cfg["rollout_len"] * cfg["num_envs"]
    curves = {
        "env_steps_per_update": cfg["rollout_len"] * cfg["num_envs"],
        "config": cfg,
        "published": PUBLISHED,
        "curves": {
            loop: {
                str(s): [None if math.isnan(x) else float(x) for x in c] for s, c in runs.items()
            }
            for loop, runs in results.items()
        },
    }
    (out / "curves.json").write_text(json.dumps(curves, indent=1))
    text = report(results, env_steps)
    (out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
