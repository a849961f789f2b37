"""ONNX graphs as ML-Agents' exporter writes them, with seeded weights (for the importer tests).

Names, shapes, ops and the order of outputs follow ML-Agents' SimpleActor export (see
``experiments.core.onnx_import``): API 2 as 0.23-0.25.1 ("2-hybrid": ``vector_observation``,
sliced per sensor; log-probability outputs), API 3 as 0.28-1.1 ("3-det": ``obs_i`` inputs,
``Multinomial`` samples and deterministic outputs). Bodies are ``Gemm(transB=1)`` + swish; the
normaliser is ``clip((x - mean) / sqrt(var / steps), -5, 5)`` per sensor; masked logits are
``l * m - 1e8 * (1 - m)``; zero biases are shared through ``Identity`` as in real files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs) -> str:
        self.count += 1
        out = out or f"/{op_type}_{self.count}_output_0"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def const(self, value) -> str:
        return self.op("Constant", [], value=numpy_helper.from_array(np.asarray(value, np.float32)))

    def linear(self, x: str, prefix: str, n_in: int, n_out: int, zero_bias: str | None) -> str:
        w = self.init(
            f"{prefix}.weight",
            self.rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(np.float32),
        )
        if zero_bias is None:
            b = self.init(f"{prefix}.bias", self.rng.normal(0, 0.1, n_out).astype(np.float32))
        else:  # equal-valued initializers end up as Identity nodes on one copy
            b = self.op("Identity", [zero_bias], f"{prefix}.bias")
        return self.op("Gemm", [x, w, b], alpha=1.0, beta=1.0, transB=1)

    def swish(self, x: str) -> str:
        return self.op("Mul", [x, self.op("Sigmoid", [x])])


def _normalise(b: _Builder, x: str, i: int, size: int, prefix: str) -> str:
    mean = b.init(
        f"{prefix}.{i}.normalizer.running_mean", b.rng.uniform(0, 0.5, size).astype(np.float32)
    )
    steps = 1000.0
    var = b.rng.uniform(0.01, 0.3, size) * steps
    divisor = b.init(f"onnx::Div_{70 + i}", np.sqrt(var / steps).astype(np.float32))
    return b.op("Clip", [b.op("Div", [b.op("Sub", [x, mean]), divisor])], min=-5.0, max=5.0)


def _body(b: _Builder, x: str, width: int, hidden: Sequence[int], prefix: str) -> str:
    zero = b.init("zero_bias", np.zeros(hidden[0], np.float32)) if len(set(hidden)) == 1 else None
    for j, h in enumerate(hidden):
        x = b.swish(b.linear(x, f"{prefix}.seq_layers.{2 * j}", width, h, zero if j else None))
        width = h
    return x


def _masked_probs(b: _Builder, h: str, width: int, branches: Sequence[int]) -> list[str]:
    probs, offset = [], 0
    for k, n in enumerate(branches):
        logits = b.linear(h, f"action_model._discrete_distribution.branches.{k}", width, n, None)
        mask = b.op("Slice", ["action_masks"], axes=[1], starts=[offset], ends=[offset + n])
        offset += n
        masked = b.op(
            "Sub",
            [
                b.op("Mul", [logits, mask]),
                b.op("Mul", [b.op("Sub", [b.const(1.0), mask]), b.const(1e8)]),
            ],
        )
        probs.append(b.op("Softmax", [masked], axis=1))
    return probs


def _graph(b: _Builder, inputs: list, outputs: list) -> onnx.ModelProto:
    graph = helper.make_graph(b.nodes, "torch_jit", inputs, outputs, b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 9)], producer_name="pytorch"
    )
    model.ir_version = 6
    onnx.checker.check_model(model)
    return model


def _info(name: str, dims: list, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, dims)


def _constant_output(b: _Builder, name: str, value) -> None:
    b.op("Identity", [b.init(f"{name}_const", np.asarray(value, np.float32))], name)


def api2_discrete(
    sensors: Sequence[int], branches: Sequence[int], hidden=(64, 64), normalise=True, seed=0
) -> onnx.ModelProto:
    """ML-Agents 0.25.1's export of a discrete PPO/POCA actor (SoccerTwos' shipped model)."""
    b = _Builder(seed)
    parts, start = [], 0
    for i, size in enumerate(sensors):
        part = b.op("Slice", ["vector_observation"], axes=[1], starts=[start], ends=[start + size])
        start += size
        prefix = "network_body.observation_encoder.processors"
        parts.append(_normalise(b, part, i, size, prefix) if normalise else part)
    x = b.op("Concat", parts, axis=1)
    h = _body(b, x, sum(sensors), hidden, "network_body.linear_encoder")
    log_probs = [
        b.op("Log", [b.op("Add", [p, b.const(1e-7)])])
        for p in _masked_probs(b, h, hidden[-1], branches)
    ]
    _constant_output(b, "version_number", [2.0])
    _constant_output(b, "memory_size", [0.0])
    b.op("Concat", log_probs, "discrete_actions", axis=1)
    _constant_output(b, "discrete_action_output_shape", [float(sum(branches))])
    b.op("Identity", ["discrete_actions"], "action")
    _constant_output(b, "is_continuous_control", [0.0])
    _constant_output(b, "action_output_shape", [float(sum(branches))])
    total = sum(branches)
    outputs = [
        _info("version_number", [1]),
        _info("memory_size", [1]),
        _info("discrete_actions", ["batch", total]),
        _info("discrete_action_output_shape", [1]),
        _info("action", ["batch", total]),
        _info("is_continuous_control", [1]),
        _info("action_output_shape", [1]),
    ]
    inputs = [
        _info("vector_observation", ["batch", sum(sensors)]),
        _info("action_masks", ["batch", total]),
    ]
    return _graph(b, inputs, outputs)


def api3_discrete(
    sensors: Sequence[int], branches: Sequence[int], hidden=(64, 64), normalise=False, seed=0
) -> onnx.ModelProto:
    """ML-Agents 0.28-1.1's export of a discrete actor (the 2023-25 SoccerTwos files)."""
    b = _Builder(seed)
    parts = [
        _normalise(b, f"obs_{i}", i, size, "network_body.observation_encoder.processors")
        if normalise
        else f"obs_{i}"
        for i, size in enumerate(sensors)
    ]
    x = b.op("Concat", parts, axis=1)
    h = _body(b, x, sum(sensors), hidden, "network_body._body_endoder")
    probs = _masked_probs(b, h, hidden[-1], branches)
    sampled = [
        b.op("Multinomial", [b.op("Log", [p])], dtype=TensorProto.INT64, sample_size=1)
        for p in probs
    ]
    greedy = [b.op("ArgMax", [p], axis=1, keepdims=1) for p in probs]
    _constant_output(b, "version_number", [3.0])
    _constant_output(b, "memory_size", [0.0])
    b.op("Concat", sampled, "discrete_actions", axis=1)
    b.op(
        "Identity",
        [b.init("discrete_act_size_vector", np.asarray([branches], np.float32))],
        "discrete_action_output_shape",
    )
    b.op("Concat", greedy, "deterministic_discrete_actions", axis=1)
    k = len(branches)
    outputs = [
        _info("version_number", [1]),
        _info("memory_size", [1]),
        _info("discrete_actions", ["batch", k], TensorProto.INT64),
        _info("discrete_action_output_shape", [1, k]),
        _info(
            "deterministic_discrete_actions",
            ["Concatdeterministic_discrete_actions_dim_0", k],
            TensorProto.INT64,
        ),
    ]
    inputs = [_info(f"obs_{i}", ["batch", s]) for i, s in enumerate(sensors)]
    inputs.append(_info("action_masks", ["batch", sum(branches)]))
    return _graph(b, inputs, outputs)


def api3_continuous(
    sensors: Sequence[int], size: int, hidden=(64, 64), normalise=True, seed=0, version=3.0
) -> onnx.ModelProto:
    """ML-Agents 0.28-1.1's export of a continuous PPO/POCA actor: ``clip(mu + sigma * eps,
    -3, 3) / 3`` sampled, ``clip(mu, -3, 3) / 3`` deterministic."""
    b = _Builder(seed)
    parts = [
        _normalise(b, f"obs_{i}", i, s, "network_body.observation_encoder.processors")
        if normalise
        else f"obs_{i}"
        for i, s in enumerate(sensors)
    ]
    x = b.op("Concat", parts, axis=1) if len(parts) > 1 else parts[0]
    h = _body(b, x, sum(sensors), hidden, "network_body._body_endoder")
    mu = b.linear(h, "action_model._continuous_distribution.mu", hidden[-1], size, None)
    log_sigma = b.init(
        "action_model._continuous_distribution.log_sigma",
        b.rng.normal(-0.5, 0.2, (1, size)).astype(np.float32),
    )
    sigma = b.op("Exp", [b.op("Add", [b.op("Mul", [mu, b.const(0.0)]), log_sigma])])
    noise = b.op("RandomNormalLike", [mu], dtype=TensorProto.FLOAT)
    sample = b.op("Add", [mu, b.op("Mul", [noise, sigma])])
    _constant_output(b, "version_number", [version])
    _constant_output(b, "memory_size", [0.0])
    b.op("Div", [b.op("Clip", [sample], min=-3.0, max=3.0), b.const(3.0)], "continuous_actions")
    _constant_output(b, "continuous_action_output_shape", [float(size)])
    b.op(
        "Div",
        [b.op("Clip", [mu], min=-3.0, max=3.0), b.const(3.0)],
        "deterministic_continuous_actions",
    )
    outputs = [
        _info("version_number", [1]),
        _info("memory_size", [1]),
        _info("continuous_actions", ["batch", size]),
        _info("continuous_action_output_shape", [1]),
        _info(
            "deterministic_continuous_actions", ["Divdeterministic_continuous_actions_dim_0", size]
        ),
    ]
    inputs = [_info(f"obs_{i}", ["batch", s]) for i, s in enumerate(sensors)]
    return _graph(b, inputs, outputs)


def with_memory(model: onnx.ModelProto, memory: int = 256) -> onnx.ModelProto:
    """The same graph declared recurrent: a ``recurrent_in`` input and a nonzero memory size."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for t in model.graph.initializer:
        if t.name == "memory_size_const":
            t.CopyFrom(numpy_helper.from_array(np.asarray([float(memory)], np.float32), t.name))
    model.graph.input.append(_info("recurrent_in", ["batch", 1, memory]))
    return model


def with_op(model: onnx.ModelProto, op_type: str) -> onnx.ModelProto:
    """The same graph with one ``op_type`` node on the first observation input (unsupported
    ops: the importer must name them)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    first = model.graph.input[0].name
    node = helper.make_node(op_type, [first], [f"{first}_{op_type}"])
    model.graph.node.insert(0, node)
    for n in model.graph.node[1:]:
        n.input[:] = [f"{first}_{op_type}" if i == first else i for i in n.input]
    return model


STRIKER_SENSORS, GOALIE_SENSORS, SOCCER_SENSORS = (231, 63), (738,), (264, 72)
SOCCER_BRANCHES = (3, 3, 3)


def strikers_vs_goalie_folder(folder: Path) -> Path:
    """A model folder as ML-Agents writes StrikersVsGoalie's: Striker.onnx and Goalie.onnx."""
    folder.mkdir()
    for name, sensors, seed in (("Striker", STRIKER_SENSORS, 1), ("Goalie", GOALIE_SENSORS, 2)):
        (folder / f"{name}.onnx").write_bytes(
            api3_discrete(sensors, SOCCER_BRANCHES, seed=seed).SerializeToString()
        )
    (folder / "configuration.yaml").write_text(
        "behaviors:\n  Striker:\n    trainer_type: poca\n  Goalie:\n    trainer_type: poca\n"
    )
    return folder
