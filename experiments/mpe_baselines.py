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
- ``ours``: ``python -m experiments.run +experiment=jaxmarl_ippo_mpe seed=S`` (the same
  settings, ``conf/experiment/``), trained by the package's own loop into ``<out>/ours/seedS``
  (checkpoints, logs, resume) with one metrics row per update: the mean over finished episodes
  of the agents' returns, x 3 (the same summed team return).

A killed study loses at most the run in progress: a finished run is read back, a started one
resumes, and JaxMARL's curve of each seed is kept in ``<out>/jaxmarl/seedS.json``. The table
is ``analysis.baselines.spread_report``.

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
from omegaconf import OmegaConf

from analysis.baselines import spread_report
from analysis.formats import EVAL_FILE, read_metrics
from experiments.bench.vs_jaxmarl import jaxmarl_style_ippo
from experiments.core import training
from experiments.core.config import compose, experiment_algo

SPREAD = "MPE_simple_spread_v3"
EXPERIMENT = "jaxmarl_ippo_mpe"  # conf/experiment/: ippo_ff_mpe.yaml in our key names
JAXMARL_IPPO_MPE = experiment_algo(EXPERIMENT)
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

    from envs.jaxmarl import make_jaxmarl

    env = MPELogWrapper(make_jaxmarl(SPREAD))
    init, update, _ = jaxmarl_style_ippo(env, cfg | {"anneal_updates": updates})
    run = jax.jit(lambda s: jax.lax.scan(lambda c, _: update(c), s, None, length=updates))
    _, metrics = run(init(jax.random.PRNGKey(seed)))
    return np.asarray(metrics["returned_episode_returns"])


def run_ours(seed: int, updates: int, cfg: dict[str, Any], run_dir: Path) -> np.ndarray:
    """Per-update mean team return (agents summed) of our IPPO, trained by ``experiments.run``'s
    loop into ``run_dir`` with ``cfg`` as its algorithm settings; NaN for an update in which no
    episode finished. A finished run is read back; a started one resumes."""
    steps = cfg["num_envs"] * cfg["rollout_len"]
    if not (run_dir / EVAL_FILE).exists():
        started = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir())
        composed = compose(
            [
                f"+experiment={EXPERIMENT}",
                f"seed={seed}",
                f"total_env_steps={updates * steps}",
                f"chunk_env_steps={steps}",  # one metrics row per update
                "checkpoint.every_chunks=50",
                "logging.wandb=false",
                "logging.progress=false",
                *([f"resume={run_dir}"] if started else []),
            ]
        )
        composed.algo = OmegaConf.merge(composed.algo, cfg)
        training.train(composed, run_dir)
    rows = read_metrics(run_dir)
    agents = 3  # simple_spread's team: the team return sums them
    returns = np.array([r["episode_return"] for r in rows]) * agents
    return np.where(np.array([r["episodes"] for r in rows]) > 0, returns, np.nan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-steps", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="mpe_report", help="folder for curves.json, report.md")
    args = parser.parse_args(argv)
    cfg = dict(JAXMARL_IPPO_MPE)
    updates = updates_for(args.env_steps, cfg)
    results: dict[str, dict[int, np.ndarray]] = {"jaxmarl": {}, "ours": {}}
    out = Path(args.out)
    for seed in args.seeds:
        saved = out / "jaxmarl" / f"seed{seed}.json"
        if not saved.exists():
            curve = run_jaxmarl(seed, updates, cfg)
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps([float(x) for x in curve]))
        results["jaxmarl"][seed] = np.array(json.loads(saved.read_text()))
        results["ours"][seed] = run_ours(seed, updates, cfg, out / "ours" / f"seed{seed}")
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
    text = spread_report(results, env_steps, PUBLISHED)
    (out / "report.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
