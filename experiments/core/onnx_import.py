"""ML-Agents ONNX policies as pure-JAX team policies: read the graph, run its nodes in JAX.

An ML-Agents export is a small feed-forward graph (model API 2 or 3; ML-Agents' exporter at
opset 9, also the later input forms of Slice and Clip). ``load_model`` reads it with ``onnx``,
checks it against a game and returns an ``ImportedModel`` whose ``policy`` interprets the
nodes with ``jax.numpy``: one trace, then it jits, vmaps and scans like any ``Policy``, so
an ML-Agents model plays at JAX speed. onnxruntime is only the parity reference (tests).

What the formats hold (inputs, outputs, the computation):
- API 2 (ML-Agents 0.22-0.25): one ``vector_observation`` input; discrete outputs are the
  log-probabilities of every branch, concatenated, which Unity samples itself: so do we, one
  categorical per branch. Continuous outputs are sampled in the graph.
- API 3 (0.26 on): ``obs_0..obs_k`` (one per sensor, in Unity's sensor order) and
  ``action_masks``; the graph samples (``Multinomial`` on the log-probabilities,
  ``RandomNormalLike`` for Gaussian noise) and, from 0.28, also emits deterministic outputs.

Sampling: every random node draws from ``jax.random`` with its own key (``fold_in`` of the
call's key by node index). Greedy play (``greedy=True``) runs the same graph with
``Multinomial`` replaced by the argmax of its input and the noise set to zero, which is what
the deterministic outputs compute (for SAC's tanh-squashed actions it is tanh of the mean, the
greedy action, where the graph's deterministic output is the raw mean).

A graph is refused, with what was found and what is supported, when it is recurrent, has an
op outside ``SUPPORTED_OPS``, inputs that are not ``[batch, n]`` floats, or observation or
action sizes that differ from the game's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from envs.base import Box, EnvSpec, MultiDiscrete
from envs.policy import Policy

MASK_INPUT = "action_masks"
RECURRENT_NAMES = ("recurrent_in", "recurrent_out", "memories")
OBS_INPUT_PREFIXES = ("obs_", "vector_observation")


class UnsupportedModel(ValueError):
    """An ONNX file this importer cannot run as a policy of the game (the message says why)."""


@dataclass(frozen=True)
class Node:
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]
    index: int  # position in the graph: the random nodes' key


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if hasattr(value, "dims"):  # a tensor (Constant's value)
            value = numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list):
            value = tuple(value)
        attrs[a.name] = value
    return attrs


# --- the ops, in jax.numpy. Each takes (node, inputs, key, greedy, static) -> outputs. ---


def _static_ints(static: dict[str, np.ndarray], name: str, node: Node) -> list[int]:
    if name not in static:
        raise UnsupportedModel(
            f"{node.op} node {node.outputs[0]!r} takes {name!r} computed at run time; only "
            "constant starts, ends, axes and indices are supported"
        )
    return [int(v) for v in np.asarray(static[name]).reshape(-1)]


def _slice(node: Node, x: list, key, greedy, static) -> list:
    data = x[0]
    if "starts" in node.attrs:  # opset < 10: attributes
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        names = node.inputs
        starts, ends = _static_ints(static, names[1], node), _static_ints(static, names[2], node)
        axes = _static_ints(static, names[3], node) if len(names) > 3 and names[3] else None
        axes = axes if axes is not None else list(range(len(starts)))
        steps = _static_ints(static, names[4], node) if len(names) > 4 and names[4] else None
        steps = steps or [1] * len(starts)
    index = [slice(None)] * data.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        index[axis] = slice(start, end, step)  # Python's slice clamps as ONNX's Slice does
    return [data[tuple(index)]]


def _gemm(node: Node, x: list, key, greedy, static) -> list:
    a, b = x[0], x[1]
    a = a.T if node.attrs.get("transA", 0) else a
    b = b.T if node.attrs.get("transB", 0) else b
    out = node.attrs.get("alpha", 1.0) * (a @ b)
    if len(x) > 2 and x[2] is not None:
        out = out + node.attrs.get("beta", 1.0) * x[2]
    return [out]


def _softmax(log: bool):
    def op(node: Node, x: list, key, greedy, static) -> list:
        data, opset = x[0], static["__opset__"]
        axis = node.attrs.get("axis", 1 if opset < 13 else -1) % data.ndim
        fn = jax.nn.log_softmax if log else jax.nn.softmax
        if opset >= 13:
            return [fn(data, axis=axis)]
        # opset < 13: the input is coerced to 2-D at ``axis`` and normalised over the rest
        flat = data.reshape(int(np.prod(data.shape[:axis])), -1)
        return [fn(flat, axis=-1).reshape(data.shape)]

    return op


def _clip(node: Node, x: list, key, greedy, static) -> list:
    low = node.attrs.get("min", None if len(x) < 2 else x[1])
    high = node.attrs.get("max", None if len(x) < 3 else x[2])
    return [jnp.clip(x[0], low, high)]


def _argmax(node: Node, x: list, key, greedy, static) -> list:
    axis, keep = node.attrs.get("axis", 0), bool(node.attrs.get("keepdims", 1))
    if node.attrs.get("select_last_index", 0):
        raise UnsupportedModel("ArgMax with select_last_index=1 is not supported")
    out = jnp.argmax(x[0], axis=axis)
    return [jnp.expand_dims(out, axis) if keep else out]


def _multinomial(node: Node, x: list, key, greedy, static) -> list:
    logits, samples = x[0], int(node.attrs.get("sample_size", 1))
    if greedy:
        out = jnp.repeat(jnp.argmax(logits, axis=-1, keepdims=True), samples, axis=-1)
    else:
        out = jax.random.categorical(key, logits, axis=-1, shape=(samples, logits.shape[0])).T
    return [out.astype(jnp.int32)]


def _random_normal_like(node: Node, x: list, key, greedy, static) -> list:
    mean, scale = node.attrs.get("mean", 0.0), node.attrs.get("scale", 1.0)
    noise = jnp.zeros(x[0].shape) if greedy else jax.random.normal(key, x[0].shape)
    return [mean + scale * noise]


def _gather(node: Node, x: list, key, greedy, static) -> list:
    indices = np.asarray(static[node.inputs[1]]) if node.inputs[1] in static else x[1]
    return [jnp.take(x[0], indices, axis=node.attrs.get("axis", 0))]


def _elementwise(fn: Callable) -> Callable:
    return lambda node, x, key, greedy, static: [fn(*x)]


OPS: dict[str, Callable] = {
    "Identity": _elementwise(lambda a: a),
    "Add": _elementwise(jnp.add),
    "Sub": _elementwise(jnp.subtract),
    "Mul": _elementwise(jnp.multiply),
    "Div": _elementwise(jnp.divide),
    "Neg": _elementwise(jnp.negative),
    "Sqrt": _elementwise(jnp.sqrt),
    "Exp": _elementwise(jnp.exp),
    "Log": _elementwise(jnp.log),
    "Sigmoid": _elementwise(jax.nn.sigmoid),
    "Relu": _elementwise(jax.nn.relu),
    "Tanh": _elementwise(jnp.tanh),
    "MatMul": _elementwise(jnp.matmul),
    "Gemm": _gemm,
    "Concat": lambda node, x, key, greedy, static: [jnp.concatenate(x, axis=node.attrs["axis"])],
    "Slice": _slice,
    "Gather": _gather,
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    "Clip": _clip,
    "ArgMax": _argmax,
    "Multinomial": _multinomial,
    "RandomNormalLike": _random_normal_like,
    "Cast": lambda node, x, key, greedy, static: [
        x[0].astype(jnp.int32 if node.attrs["to"] in (6, 7) else jnp.float32)
    ],
}
SUPPORTED_OPS = tuple(sorted(OPS))


@dataclass(frozen=True)
class ImportedModel:
    """An ML-Agents policy graph, checked against a game, ready to run in JAX."""

    path: str
    version: int  # model API version: 2 or 3
    obs_inputs: tuple[tuple[str, int], ...]  # (input name, width), in the graph's order
    has_mask_input: bool
    nodes: tuple[Node, ...]
    static: dict[str, np.ndarray]  # integer constants: shapes, indices (fixed at trace time)
    weights: dict[str, np.ndarray]  # float initializers and constants: the policy's params
    action_space: MultiDiscrete | Box
    action_output: str
    log_prob_output: bool  # API 2 discrete: the output holds log-probabilities to sample
    normalised: bool  # the graph standardises its observations (a Sub then a Div on them)
    layers: tuple[int, ...]  # output width of each weight matrix (hidden layers, then heads)

    @property
    def arch(self) -> str:
        """What fixes the compiled program: graph structure, constants and weight shapes (not
        the weights' values), so models of one architecture share one match program."""
        structure = {
            "nodes": [
                (n.op, n.inputs, n.outputs, repr(sorted(n.attrs.items()))) for n in self.nodes
            ],
            "static": {k: np.asarray(v).tolist() for k, v in sorted(self.static.items())},
            "weights": {k: list(np.shape(v)) for k, v in sorted(self.weights.items())},
            "inputs": self.obs_inputs,
            "output": self.action_output,
        }
        return hashlib.sha1(json.dumps(structure, default=str).encode()).hexdigest()[:16]

    def describe(self) -> str:
        kind = (
            f"discrete {self.action_space.branches}"
            if isinstance(self.action_space, MultiDiscrete)
            else f"continuous {self.action_space.shape[0]}"
        )
        return (
            f"ML-Agents model API {self.version}, inputs "
            f"{', '.join(f'{n}[{w}]' for n, w in self.obs_inputs)}, layers {list(self.layers)}, "
            f"{kind}{', normalised' if self.normalised else ''}"
        )

    def params(self) -> dict[str, jax.Array]:
        return {k: jnp.asarray(v) for k, v in self.weights.items()}

    def evaluate(
        self, params: dict[str, jax.Array], obs: jax.Array, key: jax.Array, greedy: bool = False
    ) -> dict[str, jax.Array]:
        """Every tensor of the graph for flat observations ``obs [batch, D]``, no masks."""
        values: dict[str, Any] = {"": None, **params}
        start = 0
        for name, width in self.obs_inputs:
            values[name] = obs[:, start : start + width]
            start += width
        if self.has_mask_input:
            width = sum(self.action_space.branches)
            values[MASK_INPUT] = jnp.ones((obs.shape[0], width), obs.dtype)
        for node in self.nodes:
            args = [values[i] if i in values else self.static.get(i) for i in node.inputs]
            outs = OPS[node.op](
                node, args, jax.random.fold_in(key, node.index), greedy, self.static
            )
            values.update(zip(node.outputs, outs, strict=False))
        return values

    def policy(self, greedy: bool = False) -> Policy:
        """``(params, obs [n, D], key) -> actions [n, ...]``: the graph's actions, sampled as
        Unity samples them (or greedy)."""
        discrete = isinstance(self.action_space, MultiDiscrete)

        def act(params: dict[str, jax.Array], obs: jax.Array, key: jax.Array) -> jax.Array:
            sample_key, graph_key = jax.random.split(key)
            out = self.evaluate(params, obs.astype(jnp.float32), graph_key, greedy)[
                self.action_output
            ]
            if not discrete:
                return out.astype(jnp.float32)
            if not self.log_prob_output:
                return out.astype(jnp.int32)
            columns, start = [], 0
            for branch, size in enumerate(self.action_space.branches):
                log_p = out[:, start : start + size]
                start += size
                columns.append(
                    jnp.argmax(log_p, -1)
                    if greedy
                    else jax.random.categorical(jax.random.fold_in(sample_key, branch), log_p)
                )
            return jnp.stack(columns, -1).astype(jnp.int32)

        return act


def _refuse(path: str | Path, problem: str, supported: str) -> UnsupportedModel:
    return UnsupportedModel(f"{path}: {problem}; supported: {supported}")


def _tensor_shape(value_info: Any) -> list[int | str]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]


def load_model(path: str | Path, spec: EnvSpec) -> ImportedModel:
    """Read an ML-Agents ONNX policy and check it fits the game ``spec`` (raises
    ``UnsupportedModel`` naming the problem)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as error:  # a truncated or non-ONNX file
        raise UnsupportedModel(f"{path}: not a readable ONNX file ({error})") from error
    graph = model.graph
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=9)
    initialisers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initialisers]
    outputs = [o.name for o in graph.output]
    ops = {n.op_type for n in graph.node}

    recurrent = [n for n in (*(i.name for i in inputs), *outputs) if n in RECURRENT_NAMES]
    if recurrent or "LSTM" in ops:
        found = ", ".join(recurrent + (["an LSTM node"] if "LSTM" in ops else []))
        raise _refuse(path, f"recurrent model ({found})", "feed-forward policies (memory_size 0)")
    unknown = sorted(ops - set(OPS) - {"Constant"})
    if unknown:
        raise _refuse(path, f"ops {unknown} are not supported", ", ".join(SUPPORTED_OPS))
    obs_inputs = []
    for value_info in inputs:
        name, shape = value_info.name, _tensor_shape(value_info)
        if name == MASK_INPUT:
            continue
        if not name.startswith(OBS_INPUT_PREFIXES):
            raise _refuse(
                path, f"input {name!r} {shape}", "obs_0..obs_k, vector_observation, action_masks"
            )
        if len(shape) != 2 or not isinstance(shape[1], int) or shape[1] <= 0:
            raise _refuse(path, f"input {name!r} has shape {shape}", "vector inputs [batch, n]")
        if value_info.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise _refuse(path, f"input {name!r} is not float32", "float32 observations")
        obs_inputs.append((name, int(shape[1])))
    if not obs_inputs:
        raise _refuse(path, "no observation input", "obs_0..obs_k or vector_observation")
    obs_inputs.sort(key=lambda item: (item[0] != "vector_observation", _obs_index(item[0])))

    nodes, static, weights = [], {"__opset__": np.int64(opset)}, {}
    for name, value in initialisers.items():
        (static if np.issubdtype(value.dtype, np.integer) else weights)[name] = value
    for index, node in enumerate(graph.node):
        attrs = _attributes(node)
        if node.op_type == "Constant":
            value = np.asarray(attrs["value"])
            target = static if np.issubdtype(value.dtype, np.integer) else weights
            target[node.output[0]] = value
            continue
        nodes.append(Node(node.op_type, tuple(node.input), tuple(node.output), attrs, index))
    weights = {k: np.asarray(v, np.float32) for k, v in weights.items()}

    imported = ImportedModel(
        path=str(path),
        version=0,
        obs_inputs=tuple(obs_inputs),
        has_mask_input=any(i.name == MASK_INPUT for i in inputs),
        nodes=tuple(nodes),
        static=static,
        weights=weights,
        action_space=spec.action_space,
        action_output="",
        log_prob_output=False,
        normalised=False,
        layers=(),
    )
    return _checked(imported, spec, outputs)


def _obs_index(name: str) -> int:
    suffix = name.removeprefix("obs_")
    return int(suffix) if suffix.isdigit() else 0


def _constant_outputs(model: ImportedModel, names: list[str]) -> dict[str, np.ndarray]:
    """The graph's metadata outputs (version, memory size, action sizes), from one eager pass
    on zeros (they are constants, so the observations do not matter)."""
    width = sum(w for _, w in model.obs_inputs)
    zeros = jnp.zeros((1, width), jnp.float32)
    values = model.evaluate(model.params(), zeros, jax.random.PRNGKey(0), greedy=True)
    return {n: np.asarray(values[n]) for n in names if n in values}


def _checked(model: ImportedModel, spec: EnvSpec, outputs: list[str]) -> ImportedModel:
    path, space = model.path, spec.action_space
    game_sensors = spec.sensors or (("obs", int(np.prod(spec.obs_shape))),)
    if model.has_mask_input and not isinstance(space, MultiDiscrete):
        raise _refuse(
            path, "the model takes action masks (discrete actions)", f"{spec.name}'s {space}"
        )
    metadata = (
        "version_number",
        "memory_size",
        "discrete_action_output_shape",
        "continuous_action_output_shape",
        "is_continuous_control",
    )
    try:
        meta = _constant_outputs(model, [n for n in metadata if n in outputs])
    except KeyError as error:
        raise _refuse(
            path, f"tensor {error} is used but never computed", "well-formed graphs"
        ) from error
    if "version_number" not in meta:
        raise _refuse(
            path, "no version_number output: not an ML-Agents policy", "ML-Agents exports"
        )
    version = round(float(meta["version_number"].reshape(-1)[0]))
    if version not in (2, 3):
        raise _refuse(path, f"model API version {version}", "model API versions 2 and 3")
    memory = float(meta.get("memory_size", np.zeros(1)).reshape(-1)[0])
    if memory != 0:
        raise _refuse(path, f"recurrent model (memory_size {memory:g})", "memory_size 0")

    widths = [w for _, w in model.obs_inputs]
    sizes = [size for _, size in game_sensors]
    if model.obs_inputs[0][0] == "vector_observation":
        if len(widths) != 1 or widths[0] != sum(sizes):
            raise _refuse(
                path,
                f"vector_observation of {widths} floats",
                f"{spec.name}'s {sum(sizes)} floats ({' + '.join(map(str, sizes))})",
            )
        bounds = _vector_slices(model)
        expected = [
            (int(a), int(a + s)) for a, s in zip(np.cumsum([0, *sizes[:-1]]), sizes, strict=True)
        ]
        if bounds and sorted(bounds) != expected:
            raise _refuse(
                path,
                f"vector_observation is sliced as {sorted(bounds)}",
                f"{spec.name}'s sensors at {expected}",
            )
    elif widths != sizes:
        raise _refuse(
            path,
            f"observation inputs {', '.join(f'{n}[{w}]' for n, w in model.obs_inputs)}",
            f"{spec.name}'s sensors "
            f"{', '.join(f'{name}[{size}]' for name, size in game_sensors)} in this order",
        )

    discrete_game = isinstance(space, MultiDiscrete)
    theirs, other = ("continuous", "discrete") if discrete_game else ("discrete", "continuous")
    if f"{theirs}_actions" in outputs and f"{other}_actions" not in outputs:
        raise _refuse(path, f"{theirs} actions ({theirs}_actions output)", f"{spec.name}'s {space}")
    if discrete_game:
        if version == 3:
            action_output, log_probs = "discrete_actions", False
            shape = meta.get("discrete_action_output_shape")
            found = None if shape is None else tuple(int(v) for v in shape.reshape(-1))
            if found != tuple(space.branches):
                raise _refuse(path, f"discrete branches {found}", f"{spec.name}'s {space.branches}")
        else:
            action_output = "discrete_actions" if "discrete_actions" in outputs else "action"
            log_probs = True
            shape = meta.get("discrete_action_output_shape")
            total = None if shape is None else int(shape.reshape(-1)[0])
            if float(meta.get("is_continuous_control", np.zeros(1)).reshape(-1)[0]) == 1 or (
                total is not None and total != sum(space.branches)
            ):
                raise _refuse(path, f"action output of {total} values", f"{spec.name}'s {space}")
    else:
        action_output = "continuous_actions" if "continuous_actions" in outputs else "action"
        log_probs = False
        shape = meta.get("continuous_action_output_shape")
        found = None if shape is None else int(shape.reshape(-1)[0])
        if found != int(np.prod(space.shape)):
            raise _refuse(path, f"continuous actions of size {found}", f"{spec.name}'s {space}")
    if action_output not in outputs:
        raise _refuse(
            path, f"no {action_output!r} output (outputs: {outputs})", f"{spec.name}'s {space}"
        )

    fields = {
        **model.__dict__,
        "version": version,
        "action_output": action_output,
        "log_prob_output": log_probs,
        "normalised": _normalised(model),
        "layers": _layer_widths(model),
    }
    checked = ImportedModel(**fields)
    try:  # one traced pass: shapes must fit (e.g. a first layer for another width)
        jax.eval_shape(
            checked.policy(),
            checked.params(),
            jax.ShapeDtypeStruct((2, sum(widths)), jnp.float32),
            jax.random.PRNGKey(0),
        )
    except UnsupportedModel:
        raise
    except Exception as error:
        raise _refuse(
            path,
            f"the graph does not run on {spec.name}'s observations ({error})",
            "graphs whose layers fit the inputs",
        ) from error
    return checked


def _layer_widths(model: ImportedModel) -> tuple[int, ...]:
    """Output width of each weight matrix, in graph order (a mirrored pass reuses them)."""
    widths, seen = [], set()
    for n in model.nodes:
        if n.op in ("Gemm", "MatMul") and n.inputs[1] in model.weights and n.inputs[1] not in seen:
            seen.add(n.inputs[1])
            w = model.weights[n.inputs[1]]
            widths.append(int(w.shape[0] if n.attrs.get("transB", 0) else w.shape[-1]))
    return tuple(widths)


def _normalised(model: ImportedModel) -> bool:
    """Whether the observations are standardised before the first layer: a Sub applied to
    them (or to slices or a concatenation of them)."""
    raw = {name for name, _ in model.obs_inputs}
    for n in model.nodes:
        if n.op in ("Slice", "Concat", "Identity") and all(i in raw for i in n.inputs[:1]):
            raw.update(n.outputs)
        elif n.op == "Sub" and n.inputs[0] in raw:
            return True
    return False


def _vector_slices(model: ImportedModel) -> list[tuple[int, int]]:
    """The (start, end) column ranges that Slice nodes cut out of ``vector_observation``."""
    bounds = []
    for n in model.nodes:
        if n.op != "Slice" or n.inputs[0] != "vector_observation":
            continue
        if "starts" in n.attrs:
            bounds.append((int(n.attrs["starts"][-1]), int(n.attrs["ends"][-1])))
        else:
            bounds.append(
                (
                    _static_ints(model.static, n.inputs[1], n)[-1],
                    _static_ints(model.static, n.inputs[2], n)[-1],
                )
            )
    return bounds
