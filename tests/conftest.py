"""Shared builders for hand-made scenes."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

from experiments.core.xla import single_threaded

# Two xdist workers share the two cores: each runs XLA single-threaded, as the study's jobs
# and the sweep's workers do, so that all of them compile (and cache) the same programs.
single_threaded(os.environ)
# The suite compiles ~130 programs and runs most of them for well under a second, so XLA's
# optimisations cost more than they save: with them off a tiny POCA SoccerTwos update
# compiles in 8.0 CPU-s instead of 17.6 (runs about 2x slower). Subprocesses inherit it;
# a test whose claim is about the optimised program asks for the `optimized` fixture.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax
import jax.numpy as jnp
import pytest

import envs
from envs.soccer_twos import env as soccer

# Many tests compile the same tiny programs (and subprocesses inherit the variables): a
# persistent XLA cache shared by the xdist workers compiles each of them once per machine.
# Every program is kept, also the sub-second ones: a fresh learner state is built eagerly,
# op by op, and its ~200 small compilations cost a training subprocess most of its start.
JAX_CACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(JAX_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update(
    "jax_persistent_cache_min_compile_time_secs",
    float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]),
)

# XLA's CPU runtime maps ~1,200 memory regions per compiled training program (its kernels'
# code and data) and keeps them while JAX caches the program. A worker that runs a hundred
# tests reaches Linux's vm.max_map_count (65,530): LLVM logs "Cannot allocate memory" and the
# worker dies of a segfault in whatever compiles or loads next. Past this many regions, the
# in-memory caches are dropped; the persistent cache above still holds every program.
MEMORY_MAPS_LIMIT = 25_000


def memory_maps() -> int:
    """Memory regions this process has mapped (0 where there is no ``/proc``)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return 0
    with maps.open() as lines:
        return sum(1 for _ in lines)


@pytest.fixture(autouse=True)
def release_compiled_programs() -> Iterator[None]:
    yield
    if memory_maps() > MEMORY_MAPS_LIMIT:
        jax.clear_caches()
        gc.collect()


@pytest.fixture
def optimized() -> Iterator[None]:
    """XLA's optimisations on for this test (they are off for the suite, see above)."""
    before = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", before)


FAR = [(-12.0, 6.5), (-12.0, -6.5), (12.0, 6.5), (12.0, -6.5)]  # corners, out of the way


@pytest.fixture(scope="session")
def soccer_env() -> soccer.SoccerTwos:
    return envs.make("soccer_twos")


@pytest.fixture(scope="session")
def tennis_env():
    return envs.make("tennis")


def soccer_scene(
    env: soccer.SoccerTwos,
    agents: list[tuple[float, float]] | None = None,
    yaw: list[float] | None = None,
    ball: tuple[float, float] = (0.0, 0.0),
    ball_vel: tuple[float, float] = (0.0, 0.0),
    timer: int = 0,
) -> soccer.SoccerState:
    """A SoccerTwos state with bodies where the test puts them and zeroed velocities."""
    _, state = jax.jit(env.reset)(jax.random.PRNGKey(0))  # one program, not ~100 eager ops
    agents = agents or FAR
    yaw = yaw or [90.0, 90.0, -90.0, -90.0]
    x = jnp.array([p[0] for p in agents] + [ball[0]], jnp.float32)
    z = jnp.array([p[1] for p in agents] + [ball[1]], jnp.float32)
    vx = jnp.zeros(5).at[4].set(ball_vel[0])
    vz = jnp.zeros(5).at[4].set(ball_vel[1])
    pitch = state.pitch.replace(
        x=x, z=z, vx=vx, vz=vz, yaw=jnp.array(yaw, jnp.float32), timer=jnp.int32(timer)
    )
    return state.replace(pitch=pitch)


# The longest items first (the smoke study's fixture trains 12 runs in subprocesses): with
# xdist they start on one worker while the other works through the rest, instead of being
# the tail of the run.
FIRST = ("test_reproduce.py", "test_launchers.py", "test_extending.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return FIRST.index(name) if name in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: the order within each file is kept
