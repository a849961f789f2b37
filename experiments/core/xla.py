"""XLA's CPU threading for processes that share a machine's cores (no JAX import here, so it
can be set before JAX starts)."""

from __future__ import annotations

from collections.abc import MutableMapping

SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def single_threaded(environ: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """``environ`` with ``SINGLE_THREAD`` in its ``XLA_FLAGS`` (added once): what runs that
    share the cores (a study's jobs, a sweep's workers, the test workers) start with.
    Compiled programs are cached per flags, so every such process uses the same string."""
    flags = environ.get("XLA_FLAGS", "")
    if SINGLE_THREAD not in flags:
        environ["XLA_FLAGS"] = f"{flags} {SINGLE_THREAD}".strip()
    return environ
