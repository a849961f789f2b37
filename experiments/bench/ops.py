"""Op by op: where one training update's time goes, by the code that emitted each op.

XLA's CPU runtime records every op it runs (fusions, dots, copies) in JAX's profiler trace,
and every op of the compiled program carries the name of the JAX code that emitted it
(``op_name``: the jitted function, the flax modules, ``jvp(...)`` for the forward pass of a
gradient and ``transpose(jvp(...))`` for its backward pass). This joins the two: one
compiled ``trainer.update``, run and traced, each op's time summed by its source. It is how
MA-POCA's learning phase was found to be bound by the attention critic's elementwise work,
not by its matmuls (``paper/notes/speed.md``). The profiler adds a few microseconds to
every op, so a program of many small ops (MADDPG's gradient steps) reads slower than it runs:
the shares are what to compare.

    python -m experiments.bench.ops                             # POCA on SoccerTwos
    python -m experiments.bench.ops --algo maddpg --env tennis --top 30 --depth 2
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import gzip
import json
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any

import jax

from experiments.bench.profile import config_arguments
from experiments.core.build import build
from experiments.core.config import compose

LOOP_PARTS = {"while", "body", "cond", "closed_call", "checkpoint", "remat"}
CONTROL_FLOW = {"while", "conditional", "call", "async-start", "async-done"}
_OP = re.compile(
    r"^\s*(?:ROOT )?%?([\w.\-]+) = .*? ([a-z][\w\-]*)\("
    r"(?:.*?op_name=\"([^\"]*)\")?(?:.*?stack_frame_id=(\d+))?"
)
_BRANCH = re.compile(r"branch_\d+_fun$|.*;")  # a cond's branch; fused names "a;b"
_TABLE_ROW = re.compile(r"^(\d+) (.*)$")
_FIELD = re.compile(r"(\w+)=(\d+)")


@dataclasses.dataclass(frozen=True)
class OpSource:
    op_name: str  # JAX's name path: jitted function, flax modules, jvp / transpose
    function: str  # the innermost Python frame that emitted the op: "fn (file.py)"


def op_sources(hlo_text: str) -> dict[str, OpSource]:
    """Each op of a compiled module (``compiled.as_text()``) -> its ``op_name`` and the
    innermost Python function of its stack (from the module's frame tables)."""
    tables: dict[str, dict[int, str]] = collections.defaultdict(dict)
    table, ops = None, {}
    for line in hlo_text.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            table = line
            continue
        row = _TABLE_ROW.match(line) if table else None
        if row:
            tables[table][int(row.group(1))] = row.group(2)
            continue
        table = None
        m = _OP.match(line)
        if m and m.group(1) not in ops and m.group(2) not in CONTROL_FLOW:
            ops[m.group(1)] = (m.group(3) or "", int(m.group(4) or 0))

    def fields(table: str, row: int) -> dict[str, int]:
        return {k: int(v) for k, v in _FIELD.findall(tables[table].get(row, ""))}

    def function(frame: int) -> str:
        loc = fields("FileLocations", fields("StackFrames", frame).get("file_location_id", 0))
        name = tables["FunctionNames"].get(loc.get("function_name_id", 0), "").strip('"')
        path = tables["FileNames"].get(loc.get("file_name_id", 0), "").strip('"')
        return f"{name} ({os.path.basename(path)})" if name else ""

    return {op: OpSource(name, function(frame)) for op, (name, frame) in ops.items()}


def source_group(source: OpSource, depth: int | None = None) -> str:
    """Where an op came from, readably: its ``op_name`` with the loop and ``jit(...)``
    wrappers and the primitive dropped, ``jvp(X)`` read as X's forward and
    ``transpose(jvp(X))`` as its backward pass; ``depth`` keeps that many path parts. Ops
    emitted outside any named module (a loss, an env step under ``vmap``) go by the
    innermost Python function that emitted them."""
    parts, backward = [], False
    for part in source.op_name.split("/"):
        if part in LOOP_PARTS or part.startswith("jit(") or _BRANCH.match(part):
            continue
        if part.startswith("transpose("):
            backward, part = True, part[len("transpose(") : -1]
        while part.startswith(("jvp(", "vmap(")):  # a transformation of the code inside
            part = part[part.index("(") + 1 : -1]
        if part:
            parts.append(part)
    parts = parts[:-1]  # the primitive (dot_general, add, ...)
    path = "/".join(parts[:depth] if depth else parts) or source.function or "(unnamed)"
    return f"{path} [backward]" if backward else path


def trace_op_times(trace_dir: str, module: str) -> collections.Counter[str]:
    """Summed microseconds per op of ``module`` in the profiler trace under ``trace_dir``."""
    files = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    if not files:
        raise RuntimeError(
            f"the profiler wrote no trace under {trace_dir}: this jax ({jax.__version__}) "
            "records no per-op events on this backend"
        )
    times: collections.Counter[str] = collections.Counter()
    for f in files:
        with gzip.open(f) as fh:
            events = json.load(fh)["traceEvents"]
        for e in events:
            args = e.get("args", {})
            if e.get("ph") == "X" and args.get("hlo_module") == module and "hlo_op" in args:
                times[args["hlo_op"]] += e["dur"]
    if not times:
        raise RuntimeError(f"the trace holds no op of {module}: nothing to attribute")
    return times


def time_by_source(
    compiled: Any, run: Callable[[], Any], runs: int = 2, depth: int | None = None
) -> collections.Counter[str]:
    """Microseconds per run of a compiled program's ops, summed by ``source_group``; ``run()``
    runs ``compiled`` once (threading its state through, if it donates it)."""
    text = compiled.as_text()
    module = text.split(None, 2)[1].rstrip(",")  # "HloModule jit_update, ..."
    with tempfile.TemporaryDirectory() as trace_dir:
        jax.profiler.start_trace(trace_dir)
        for _ in range(runs):
            jax.block_until_ready(run())
        jax.profiler.stop_trace()
        times = trace_op_times(trace_dir, module)
    sources = op_sources(text)
    groups: collections.Counter[str] = collections.Counter()
    for op, us in times.items():
        if op in sources:  # control flow (loops, branches, calls) is timed by its own ops
            groups[source_group(sources[op], depth)] += us / runs
    return groups


def profile_ops(
    algo: str,
    env_name: str,
    overrides: list[str],
    updates: int = 2,
    warmup: int | None = None,
    depth: int | None = None,
) -> dict[str, Any]:
    """``trainer.update`` compiled as a run's chunk runs it (its state donated, so the replay
    and rollout buffers are updated in place), ``warmup`` updates run (by default until an
    off-policy learner's replay holds ``learning_starts`` steps, so that it learns), then
    ``updates`` traced; ms per update by source (see ``source_group``)."""
    cfg = compose([f"algo={algo}", f"env={env_name}", *overrides])
    _, trainer = build(cfg)
    state = trainer.init(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update, donate_argnums=0).lower(state).compile()
    if warmup is None:
        starts = cfg.algo.get("learning_starts", 0)
        warmup = 1 + -(-starts // trainer.env_steps_per_update)
    for _ in range(warmup):
        state, _ = update(state)

    def run() -> Any:
        nonlocal state
        state, _ = update(state)
        return state

    groups = time_by_source(update, run, updates, depth)
    total = sum(groups.values())
    return {
        "algo": algo,
        "env": env_name,
        "overrides": overrides,
        "env_steps_per_update": trainer.env_steps_per_update,
        "ops_ms_per_update": total / 1e3,
        "sources": [
            {"source": g, "ms_per_update": us / 1e3, "share": us / total}
            for g, us in groups.most_common()
        ],
    }


def report(p: dict[str, Any], top: int) -> str:
    lines = [
        f"{p['algo']} on {p['env']} {' '.join(p['overrides'])}".rstrip()
        + f": ops take {p['ops_ms_per_update']:.1f} ms per update of "
        + f"{p['env_steps_per_update']} env steps under the profiler (it adds microseconds "
        + "per op: read the shares)",
        "| source | ms per update | share |",
        "|---|---:|---:|",
    ]
    for s in p["sources"][:top]:
        lines.append(f"| {s['source']} | {s['ms_per_update']:.1f} | {100 * s['share']:.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config_arguments(parser)
    parser.add_argument("--updates", type=int, default=2, help="traced updates")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="updates before the trace (default: until learning starts)",
    )
    parser.add_argument("--depth", type=int, default=None, help="source path parts kept")
    parser.add_argument("--top", type=int, default=25, help="sources listed")
    args = parser.parse_args()
    p = profile_ops(args.algo, args.env, args.override, args.updates, args.warmup, args.depth)
    print(json.dumps(p))
    print(report(p, args.top))


if __name__ == "__main__":
    main()
