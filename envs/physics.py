"""2-D rigid circles against static walls and each other: the contact model of both games.

A deliberately small subset of what PhysX does for these scenes: bodies are circles with
frozen rotation, walls are one-sided segments with an inward normal, contacts are resolved
by projection (no overlap survives a step) plus a restitution impulse along the normal.
Tangential friction and spin are ignored (the Unity bodies have frozen rotations or roll).

Vectors are passed as separate x and z component arrays (structure of arrays): on CPU, XLA
turns tiny ``[..., 2]`` dot products into slow library calls and strided loops, while
component arithmetic fuses into a single loop; this layout made the games ~5x faster.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

# How deep behind a wall's inner face a body may be and still be pushed back. Fast bodies
# (a kicked ball moves ~1 m per 0.02 s physics step) can cross the face within one step;
# 2 m is larger than any step's travel and smaller than any legitimate distance to the
# *back* of a wall from the playable side, so nothing is ever pushed through a wall.
MAX_PENETRATION = 2.0


class Bodies(NamedTuple):
    """Positions and velocities of ``N`` circles, one array ``[N]`` per component."""

    x: jax.Array
    z: jax.Array
    vx: jax.Array
    vz: jax.Array


@struct.dataclass
class Walls:
    """Static one-sided segments from ``(ax, az)``, unit direction ``u``, inward normal ``n``."""

    ax: jax.Array  # [S]
    az: jax.Array
    ux: jax.Array
    uz: jax.Array
    nx: jax.Array
    nz: jax.Array
    length: jax.Array

    @staticmethod
    def from_segments(a: np.ndarray, b: np.ndarray, inward: np.ndarray) -> Walls:
        """Build walls from endpoints ``[S, 2]``; ``inward`` is a point on each playable side."""
        a, b, inward = (np.asarray(v, np.float32) for v in (a, b, inward))
        d = b - a
        length = np.linalg.norm(d, axis=-1)
        u = d / length[:, None]
        n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
        n = n * np.sign(np.sum((inward - a) * n, axis=-1))[:, None]
        f32 = lambda v: jnp.asarray(v, jnp.float32)  # noqa: E731
        return Walls(
            f32(a[:, 0]),
            f32(a[:, 1]),
            f32(u[:, 0]),
            f32(u[:, 1]),
            f32(n[:, 0]),
            f32(n[:, 1]),
            f32(length),
        )


def collide_walls(
    b: Bodies, radius: jax.Array, walls: Walls, restitution: jax.Array
) -> tuple[Bodies, jax.Array]:
    """Push circles out of walls and reflect their inward-moving normal velocity.

    ``radius`` and ``restitution`` are ``[N]``; returns ``(bodies, touching [N, S])``.
    """
    rx, rz = b.x[:, None] - walls.ax, b.z[:, None] - walls.az  # [N, S]
    along = rx * walls.ux + rz * walls.uz
    dist = rx * walls.nx + rz * walls.nz
    r = radius[:, None]
    touching = (along >= 0.0) & (along <= walls.length) & (dist < r) & (dist > -MAX_PENETRATION)
    depth = jnp.where(touching, r - dist, 0.0)
    vn = b.vx[:, None] * walls.nx + b.vz[:, None] * walls.nz
    impulse = jnp.where(touching & (vn < 0.0), -(1.0 + restitution[:, None]) * vn, 0.0)
    return Bodies(
        b.x + jnp.sum(depth * walls.nx, 1),
        b.z + jnp.sum(depth * walls.nz, 1),
        b.vx + jnp.sum(impulse * walls.nx, 1),
        b.vz + jnp.sum(impulse * walls.nz, 1),
    ), touching


def collide_points(
    b: Bodies, radius: jax.Array, px: jax.Array, pz: jax.Array, restitution: jax.Array
) -> Bodies:
    """Circles against static points ``[P]`` (convex wall corners such as goal posts)."""
    rx, rz = b.x[:, None] - px, b.z[:, None] - pz  # [N, P]
    dist = jnp.sqrt(rx * rx + rz * rz)
    inv = 1.0 / jnp.maximum(dist, 1e-6)
    nx, nz = rx * inv, rz * inv
    touching = dist < radius[:, None]
    depth = jnp.where(touching, radius[:, None] - dist, 0.0)
    vn = b.vx[:, None] * nx + b.vz[:, None] * nz
    impulse = jnp.where(touching & (vn < 0.0), -(1.0 + restitution[:, None]) * vn, 0.0)
    return Bodies(
        b.x + jnp.sum(depth * nx, 1),
        b.z + jnp.sum(depth * nz, 1),
        b.vx + jnp.sum(impulse * nx, 1),
        b.vz + jnp.sum(impulse * nz, 1),
    )


def collide_circles(
    b: Bodies, radius: jax.Array, inv_mass: jax.Array, restitution: jax.Array
) -> tuple[Bodies, jax.Array]:
    """Resolve every overlapping pair of ``N`` circles at once (Jacobi style).

    ``radius``/``inv_mass`` are ``[N]``, ``restitution`` is ``[N, N]``. Overlap is removed in
    proportion to inverse mass and the approaching normal velocity gets the usual impulse
    ``j = -(1 + e) v_rel·n / (1/m_i + 1/m_j)``. Returns ``(bodies, touching [N, N])``.
    """
    n_bodies = b.x.shape[0]
    eye = np.eye(n_bodies, dtype=bool)
    rx, rz = b.x[:, None] - b.x[None, :], b.z[:, None] - b.z[None, :]  # i minus j
    dist = jnp.sqrt(rx * rx + rz * rz + eye)  # + eye avoids 0/0 on the diagonal
    nx, nz = rx / dist, rz / dist  # from j to i
    reach = radius[:, None] + radius[None, :]
    touching = (dist < reach) & ~eye
    inv_sum = inv_mass[:, None] + inv_mass[None, :]
    move = jnp.where(touching, (reach - dist) * inv_mass[:, None] / inv_sum, 0.0)
    v_rel = (b.vx[:, None] - b.vx[None, :]) * nx + (b.vz[:, None] - b.vz[None, :]) * nz
    j = jnp.where(touching & (v_rel < 0.0), -(1.0 + restitution) * v_rel / inv_sum, 0.0)
    dv = j * inv_mass[:, None]
    return Bodies(
        b.x + jnp.sum(move * nx, 1),
        b.z + jnp.sum(move * nz, 1),
        b.vx + jnp.sum(dv * nx, 1),
        b.vz + jnp.sum(dv * nz, 1),
    ), touching
