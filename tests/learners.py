"""A learner of an algorithm on a game with policy parameters moved off their init, for the
export and import tests (whose parity checks need actions that depend on the observation)."""

from __future__ import annotations

from typing import Any

import jax

import algos
import envs
from algos.learner import Learner
from algos.selfplay import SelfPlayConfig


def learner_and_params(algo: str, game: str, **cfg: Any) -> tuple[Learner, Any]:
    env = envs.make(game)
    (learner,) = algos.make(
        algo, env, {"num_envs": 4, **cfg}, SelfPlayConfig.mlagents(), 10**6
    ).learners
    # Jitted: op by op, a learner's init is hundreds of small compilations.
    params = learner.policy_params(
        jax.jit(learner.init)(*jax.random.split(jax.random.PRNGKey(3), learner.init_keys))
    )
    params["actor"] = jax.tree.map(  # off the near-zero output init
        lambda p: p + 0.05 * jax.random.normal(jax.random.PRNGKey(p.size), p.shape),
        params["actor"],
    )
    return learner, params
