"""The optimiser every learner uses: Adam (eps 1e-5), optionally after global-norm clipping."""

from __future__ import annotations

import optax


def optimizer(
    lr: float | optax.Schedule, max_grad_norm: float | None
) -> optax.GradientTransformation:
    adam = optax.adam(lr, eps=1e-5)
    return (
        adam
        if max_grad_norm is None
        else optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)
    )
