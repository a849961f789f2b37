"""Unity's ``RayPerceptionSensor`` (sphere casts in the horizontal plane) in JAX.

Follows com.unity.ml-agents/Runtime/Sensors/RayPerceptionSensor.cs:

* angles in degrees, 90 = straight ahead, in *alternating* order
  ``[90, 90-d, 90+d, 90-2d, 90+2d, ...]`` with ``d = max_degrees / rays_per_direction``;
  a ray at angle ``a`` points along ``cos(a) * right + sin(a) * forward``;
* each ray yields ``num_tags + 2`` floats: a one-hot of the hit object's tag (all zero on a
  miss or an untagged hit), then 1.0 if the ray hit *nothing*, then the hit fraction
  ``distance / ray_length`` (1.0 on a miss);
* a sphere cast ignores colliders it already overlaps at its start (PhysX semantics), which
  is also what keeps an agent from seeing itself.

Objects are circles (given the *horizontal* contact radius: cast radius plus the object's
radius at the cast height) and one-sided wall segments (``envs.physics.Walls``). Vectors
are x/z component arrays, as in ``envs.physics``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.physics import Walls

NO_TAG = -1  # an object the sensor hits but does not report a tag for


def ray_angles(rays_per_direction: int, max_degrees: float) -> np.ndarray:
    """Unity's alternating ray angles in degrees, e.g. (5, 60) -> 90, 78, 102, ..., 150."""
    delta = max_degrees / rays_per_direction
    angles = [90.0]
    for i in range(1, rays_per_direction + 1):
        angles += [90.0 - i * delta, 90.0 + i * delta]
    return np.asarray(angles, dtype=np.float32)


def ray_directions(
    fx: jax.Array, fz: jax.Array, angles_deg: np.ndarray
) -> tuple[jax.Array, jax.Array]:
    """World directions ``([N, R], [N, R])`` of rays for sensors whose forward is ``(fx, fz)``.

    Right is forward turned 90 degrees clockwise seen from above: ``(fz, -fx)``.
    """
    rad = np.deg2rad(angles_deg)
    cos, sin = jnp.asarray(np.cos(rad)), jnp.asarray(np.sin(rad))
    fx, fz = fx[:, None], fz[:, None]
    return cos * fz + sin * fx, -cos * fx + sin * fz


def cast_circles(
    ox: jax.Array,
    oz: jax.Array,
    dx: jax.Array,
    dz: jax.Array,
    cx: jax.Array,
    cz: jax.Array,
    contact_radius: jax.Array,
) -> jax.Array:
    """Distance each ray's sphere travels before touching each circle: ``[N, R, C]``, inf on miss.

    Origins ``[N]``, unit directions ``[N, R]``, circle centres ``[C]`` and horizontal contact
    radii ``[C]``. Circles overlapping the start are ignored.
    """
    rx, rz = (cx[None, :] - ox[:, None])[:, None, :], (cz[None, :] - oz[:, None])[:, None, :]
    b = dx[..., None] * rx + dz[..., None] * rz  # [N, R, C]
    c = rx * rx + rz * rz - contact_radius**2  # [N, 1, C]
    disc = b * b - c
    t = b - jnp.sqrt(jnp.maximum(disc, 0.0))
    return jnp.where((disc >= 0.0) & (c > 0.0) & (t >= 0.0), t, jnp.inf)


def cast_walls(
    ox: jax.Array, oz: jax.Array, dx: jax.Array, dz: jax.Array, walls: Walls, cast_radius: float
) -> jax.Array:
    """Distance each ray's sphere travels before touching each wall's inner face: ``[N, R, S]``.

    Only the inner face counts (walls are one-sided) and the touching point must lie on the
    segment; segment ends that stick out into the field are cast separately as circles.
    """
    rx, rz = (ox[:, None] - walls.ax)[:, None, :], (oz[:, None] - walls.az)[:, None, :]
    gap = rx * walls.nx + rz * walls.nz - cast_radius  # [N, 1, S]
    approach = -(dx[..., None] * walls.nx + dz[..., None] * walls.nz)  # [N, R, S]
    t = jnp.maximum(gap / jnp.where(approach > 0.0, approach, 1.0), 0.0)
    along = (
        rx * walls.ux + rz * walls.uz + t * (dx[..., None] * walls.ux + dz[..., None] * walls.uz)
    )
    hit = (approach > 0.0) & (gap > -1e-3) & (along >= 0.0) & (along <= walls.length)
    return jnp.where(hit, t, jnp.inf)


def encode_rays(
    distances: jax.Array, tags: jax.Array, num_tags: int, ray_length: float
) -> jax.Array:
    """Unity's float layout for the nearest hit of every ray: ``[N, R * (num_tags + 2)]``.

    ``distances`` is ``[N, R, K]`` over ``K`` candidate objects, ``tags`` ``[N, K]`` the tag
    index each observer assigns to each object (``NO_TAG`` for untagged colliders).
    """
    nearest = jnp.argmin(distances, axis=-1)  # [N, R]
    dist = jnp.min(distances, axis=-1)
    has_hit = dist <= ray_length
    tag = jnp.take_along_axis(tags, nearest, axis=-1)  # [N, R]
    one_hot = jax.nn.one_hot(jnp.where(has_hit, tag, NO_TAG), num_tags)  # NO_TAG -> zeros
    miss = (~has_hit).astype(jnp.float32)[..., None]
    fraction = jnp.where(has_hit, dist / ray_length, 1.0)[..., None]
    per_ray = jnp.concatenate([one_hot, miss, fraction], axis=-1)
    return per_ray.reshape(per_ray.shape[0], -1)
