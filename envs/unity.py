"""A Unity ML-Agents build (or the Editor) behind the env protocol, through mlagents-envs.

The build keeps its own state, so this env is host-side: ``reset_batch`` and ``step_batch``
are ``io_callback``s that exchange one decision of *every* area with Unity over gRPC. The
rest is unchanged: the same jitted chunk (rollout ``lax.scan`` + learner update) that trains
on the JAX games trains on the real one, with the update on the device and each decision on
the host. The batch is the build's areas (8 fields in the course's SoccerTwos), so
``num_envs`` is fixed by the build.

How Unity's world maps onto the protocol's ``[E, A]`` axes:

- Behaviours are teams: ``SoccerTwos?team=0`` and ``SoccerTwos?team=1``; team 0's agents
  come first on the agent axis, as in the JAX games.
- Areas are agent groups (``SimpleMultiAgentGroup``). Each field creates its two groups one
  after the other, so the k-th group of team 0 (by group id) faces the k-th group of team 1.
  Behaviours without groups (Tennis) make each agent its own group.
- Inside a group, agents are ordered by agent id.
- An agent in ``TerminalSteps`` whose teammates play on has left early (absorbed): it is
  ``done`` until its area's episode ends, and it gets its team's group reward (the team's,
  broadcast per agent, as the JAX games report it).
- An area whose agents are all terminal has ended its episode; its new first observations
  come from the same or a later message (Unity decides when agents request decisions), and
  the adapter steps until every area has one decision from each agent that is in the game.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from envs.base import Box, EnvSpec, MultiAgentEnv, MultiDiscrete, StepInfo
from envs.registry import Game, game, games

BEHAVIOUR = re.compile(r"^(?P<name>.+)\?team=(?P<team>\d+)$")
MAX_CATCH_UP = 200  # extra Unity steps allowed to collect one decision from every agent


class UnitySetupError(RuntimeError):
    """The build could not be started, reached or mapped onto the protocol; says what to do."""


def _mlagents():
    try:
        from mlagents_envs import environment, exception
        from mlagents_envs.side_channel.engine_configuration_channel import (
            EngineConfigurationChannel,
        )
    except ImportError as err:  # the optional extra
        raise UnitySetupError(
            "env=unity needs mlagents-envs 0.28: pip install -e '.[unity]'"
        ) from err
    return environment, exception, EngineConfigurationChannel


@dataclasses.dataclass
class AgentTable:
    """Where each Unity agent lives on the ``[E, A]`` axes."""

    behaviours: tuple[str, ...]  # one per team, team id order
    slots: dict[tuple[int, int], tuple[int, int]]  # (team, agent id) -> (area, agent index)
    num_areas: int
    team_size: int

    @classmethod
    def from_decisions(
        cls, behaviours: Sequence[str], agent_ids: Sequence[np.ndarray], group_ids: Sequence[Any]
    ) -> AgentTable:
        """Pair the k-th group of each team into area k; order agents by id inside a group."""
        per_team = []
        for team, (ids, groups) in enumerate(zip(agent_ids, group_ids, strict=True)):
            by_group: dict[int, list[int]] = {}
            for agent, group in zip(np.asarray(ids).tolist(), list(groups), strict=True):
                key = int(group) if int(group) != 0 else -1 - int(agent)  # 0 = no group
                by_group.setdefault(key, []).append(int(agent))
            groups_sorted = [sorted(v) for _, v in sorted(by_group.items(), key=_group_order)]
            sizes = {len(g) for g in groups_sorted}
            if len(sizes) != 1:
                raise UnitySetupError(
                    f"{behaviours[team]}: agent groups have different sizes {sorted(sizes)}; "
                    "every area must field the same team"
                )
            per_team.append(groups_sorted)
        counts = [len(t) for t in per_team]
        sizes = [len(t[0]) for t in per_team]
        if len(set(counts)) != 1 or len(set(sizes)) != 1:
            raise UnitySetupError(
                f"teams do not pair up into areas: {dict(zip(behaviours, counts, strict=True))} "
                f"groups of {dict(zip(behaviours, sizes, strict=True))} agents"
            )
        slots = {}
        for team, groups in enumerate(per_team):
            for area, members in enumerate(groups):
                for k, agent in enumerate(members):
                    slots[(team, agent)] = (area, team * sizes[0] + k)
        return cls(tuple(behaviours), slots, counts[0], sizes[0])

    def locate(self, team: int, agent_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(area, agent index)`` arrays for the agent ids of one behaviour."""
        try:
            pairs = [self.slots[(team, int(a))] for a in np.asarray(agent_ids).tolist()]
        except KeyError as err:
            raise UnitySetupError(
                f"agent {err.args[0][1]} of {self.behaviours[team]} appeared after the first "
                "reset; agents spawned mid-run are not supported"
            ) from None
        if not pairs:
            return np.zeros(0, int), np.zeros(0, int)
        area, index = zip(*pairs, strict=True)
        return np.asarray(area), np.asarray(index)


def _group_order(item: tuple[int, list[int]]) -> tuple[int, int]:
    key, members = item
    return (0, key) if key >= 0 else (1, min(members))


def _port_in_use(port: int) -> str:
    return (
        f"port {port} is in use (another build or UnityEnvironment?): set env.worker_id to "
        "another number (port = base_port + worker_id) or change env.base_port"
    )


def _check_port_free(port: int) -> None:
    """Fail before mlagents-envs does: its half-built UnityEnvironment errors again at exit."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("localhost", port))
        except OSError:
            raise UnitySetupError(_port_in_use(port)) from None


def _flat_obs(obs_list: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Unity sends each sensor separately, sorted by name; the protocol has one flat vector."""
    return np.concatenate([np.asarray(o, np.float32).reshape(n, -1) for o in obs_list], axis=-1)


class UnityBridge:
    """The host side: one ``UnityEnvironment`` and the bookkeeping of the ``[E, A]`` mapping."""

    def __init__(
        self,
        file_name: str | None,
        base_port: int | None,
        worker_id: int,
        no_graphics: bool,
        timeout_wait: int,
        time_scale: float,
        seed: int,
        additional_args: Sequence[str],
    ) -> None:
        environment, exception, engine_channel = _mlagents()
        if file_name is not None:
            from mlagents_envs import env_utils

            if env_utils.validate_environment_path(str(file_name)) is None:
                raise UnitySetupError(
                    f"env.file_name={file_name}: no Unity build there (also tried .x86_64 and "
                    ".x86). Pass the path of the build's executable, e.g. "
                    "/path/to/SoccerTwos/SoccerTwos.x86_64, or env.file_name=null to connect "
                    "to the Unity Editor in Play mode."
                )
        self.engine = engine_channel()
        port = (base_port or (5005 if file_name else 5004)) + worker_id
        _check_port_free(port)
        try:
            self.env = environment.UnityEnvironment(
                file_name=file_name,
                worker_id=worker_id,
                base_port=base_port,
                seed=seed,
                no_graphics=no_graphics,
                timeout_wait=timeout_wait,
                additional_args=[str(a) for a in additional_args],
                side_channels=[self.engine],
            )
        except exception.UnityWorkerInUseException as err:
            raise UnitySetupError(_port_in_use(port)) from err
        except exception.UnityTimeOutException as err:
            raise UnitySetupError(
                f"no Unity build answered on port {port} within {timeout_wait} s: check that "
                "the build starts on this machine (headless: env.no_graphics=true), that it "
                "was built with ML-Agents 2.x (communication API 1.5), or raise "
                "env.timeout_wait"
            ) from err
        except exception.UnityEnvironmentException as err:
            raise UnitySetupError(f"Unity environment failed to start: {err}") from err
        self.engine.set_configuration_parameters(time_scale=time_scale)
        self.env.reset()
        self.behaviours = self._team_behaviours()
        specs = [self.env.behavior_specs[b] for b in self.behaviours]
        if len({(tuple(o.shape for o in s.observation_specs), s.action_spec) for s in specs}) > 1:
            raise UnitySetupError(
                f"the teams' behaviours differ ({self.behaviours}); self-play needs one spec"
            )
        self.behaviour_spec = specs[0]
        decisions = [self.env.get_steps(b)[0] for b in self.behaviours]
        self.table = AgentTable.from_decisions(
            self.behaviours, [d.agent_id for d in decisions], [d.group_id for d in decisions]
        )
        self.num_agents = 2 * self.table.team_size
        self.obs_size = int(sum(np.prod(o.shape) for o in self.behaviour_spec.observation_specs))
        self._obs = np.zeros((self.table.num_areas, self.num_agents, self.obs_size), np.float32)
        self._absent = np.zeros((self.table.num_areas, self.num_agents), bool)
        self._carry = np.zeros((self.table.num_areas, self.num_agents), np.float32)
        self._deciding: list[np.ndarray] = []
        self._read_first_decisions()

    def _team_behaviours(self) -> tuple[str, ...]:
        names = sorted(self.env.behavior_specs)
        parsed = [BEHAVIOUR.match(n) for n in names]
        if len(names) != 2 or not all(parsed):
            raise UnitySetupError(
                f"expected two team behaviours '<name>?team=0' and '<name>?team=1', the build "
                f"has {names}; check each agent's Behavior Parameters (Team Id)"
            )
        return tuple(sorted(names, key=lambda n: int(BEHAVIOUR.match(n)["team"])))

    def spec(self) -> tuple[tuple[int, ...], Any, tuple[tuple[str, int], ...]]:
        """``(obs_shape, action_space, sensors)`` of one agent, from the build's behaviour
        spec; a sensor is ``(name, floats)``."""
        action = self.behaviour_spec.action_spec
        if action.continuous_size and action.discrete_size:
            raise UnitySetupError("hybrid (continuous + discrete) actions are not supported")
        if action.discrete_size:
            space = MultiDiscrete(tuple(int(b) for b in action.discrete_branches))
        else:
            space = Box(-1.0, 1.0, (int(action.continuous_size),))
        sensors = tuple(
            (o.name, int(np.prod(o.shape))) for o in self.behaviour_spec.observation_specs
        )
        return (self.obs_size,), space, sensors

    def _read_first_decisions(self) -> None:
        self._deciding = []
        for team, behaviour in enumerate(self.behaviours):
            dec = self.env.get_steps(behaviour)[0]
            area, index = self.table.locate(team, dec.agent_id)
            self._obs[area, index] = _flat_obs(dec.obs, len(dec))
            self._deciding.append(np.asarray(dec.agent_id))
        self._absent[:] = False
        self._carry[:] = 0.0

    def reset(self) -> np.ndarray:
        self.env.reset()
        self._read_first_decisions()
        return self._obs.copy()

    def _send(self, actions: np.ndarray) -> None:
        from mlagents_envs.base_env import ActionTuple

        for team, behaviour in enumerate(self.behaviours):
            ids = self._deciding[team]
            if len(ids) == 0:
                continue
            area, index = self.table.locate(team, ids)
            chosen = actions[area, index]
            if self.behaviour_spec.action_spec.discrete_size:
                self.env.set_actions(behaviour, ActionTuple(discrete=chosen.astype(np.int32)))
            else:
                self.env.set_actions(behaviour, ActionTuple(continuous=chosen.astype(np.float32)))

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """One decision of every area: ``(obs, reward, done, group_reward, terminated,
        truncated, terminal_obs)`` as numpy arrays with ``[E, A]`` leading axes."""
        shape = self._absent.shape
        reward, group_reward = self._carry.copy(), np.zeros(shape, np.float32)
        self._carry[:] = 0.0
        done, truncated = self._absent.copy(), np.zeros(shape, bool)
        terminal_obs, next_obs = self._obs.copy(), self._obs.copy()
        decided = np.zeros(shape, bool)
        self._send(actions)
        for _ in range(MAX_CATCH_UP):
            self.env.step()
            self._deciding = []
            for team, behaviour in enumerate(self.behaviours):
                dec, term = self.env.get_steps(behaviour)
                area, index = self.table.locate(team, term.agent_id)
                newly = ~done[area, index]
                reward[area[newly], index[newly]] += term.reward[newly]
                group_reward[area, index] += term.group_reward
                done[area, index] = True
                truncated[area, index] = term.interrupted
                if len(term):
                    terminal_obs[area, index] = _flat_obs(term.obs, len(term))
                    next_obs[area, index] = terminal_obs[area, index]
                area, index = self.table.locate(team, dec.agent_id)
                ended_here = done[area, index] & ~self._absent[area, index]
                # a decision after a terminal step starts the next episode: its reward is
                # the next step's
                self._carry[area[ended_here], index[ended_here]] += dec.reward[ended_here]
                live = ~ended_here
                reward[area[live], index[live]] += dec.reward[live]
                group_reward[area[live], index[live]] += dec.group_reward[live]
                if len(dec):
                    next_obs[area, index] = _flat_obs(dec.obs, len(dec))
                decided[area, index] = True
                self._deciding.append(np.asarray(dec.agent_id))
            ended = done.all(axis=1)
            # ended areas need everyone's first decision; others everyone still in the game
            waiting = np.where(ended[:, None], ~decided, ~decided & ~done)
            if not waiting.any():
                break
            self._send(np.zeros_like(actions))  # agents that decided early wait in place
        else:
            raise UnitySetupError(
                f"{int(waiting.sum())} agents gave no decision in {MAX_CATCH_UP} Unity steps; "
                "each agent needs a DecisionRequester and all agents of an area must decide "
                "on the same steps"
            )
        # the team's group reward reaches every member, including those that left early
        team_size = self.table.team_size
        for team in range(2):
            members = slice(team * team_size, (team + 1) * team_size)
            block = group_reward[:, members]
            strongest = np.take_along_axis(block, np.abs(block).argmax(1)[:, None], axis=1)
            group_reward[:, members] = strongest
        self._absent = done & ~ended[:, None]
        self._obs = next_obs
        return (
            next_obs.copy(),
            reward,
            done,
            group_reward,
            done & ~truncated,
            truncated,
            terminal_obs,
        )

    def close(self) -> None:
        self.env.close()


class UnityEnv(MultiAgentEnv):
    """``envs.make("unity", file_name=...)``: the build's two team behaviours as one env.

    ``expect`` names the JAX game whose spec the build must match (``soccer_twos`` or
    ``tennis``); the env then reports that name, so scripted opponents, evaluation and
    exported policies work across both. ``expect=None`` takes the build's own spec.
    """

    def __init__(
        self,
        file_name: str | None = None,
        expect: str | None = "soccer_twos",
        base_port: int | None = None,
        worker_id: int = 0,
        no_graphics: bool = True,
        timeout_wait: int = 60,
        time_scale: float = 20.0,
        seed: int = 0,
        max_steps: int | None = None,
        additional_args: Sequence[str] = (),
    ) -> None:
        self.bridge = UnityBridge(
            file_name,
            base_port,
            worker_id,
            no_graphics,
            timeout_wait,
            time_scale,
            seed,
            additional_args,
        )
        obs_shape, space, sensors = self.bridge.spec()
        team_size = self.bridge.table.team_size
        name, names = "unity", tuple(f"team{t}_{k}" for t in range(2) for k in range(team_size))
        if expect is not None:
            expected = self._expected_spec(expect)
            sizes = tuple(size for _, size in sensors)
            found = (self.bridge.num_agents, sizes, space)
            want = (
                expected.num_agents,
                tuple(size for _, size in expected.sensors) or expected.obs_shape,
                expected.action_space,
            )
            if found != want:
                self.bridge.close()
                raise UnitySetupError(
                    f"the build does not match env.expect={expect}: it has {found[0]} agents "
                    f"per area, observation tensors {found[1]} and actions {found[2]}; {expect} "
                    f"has {want[0]}, {want[1]} and {want[2]}. Use the matching build, or "
                    "env.expect=null to train on the build's own spec."
                )
            name, names, sensors = expected.name, expected.agent_names, expected.sensors
            max_steps = max_steps or expected.max_steps
        self.spec = EnvSpec(
            name=name,
            num_agents=self.bridge.num_agents,
            teams=tuple([0] * team_size + [1] * team_size),
            agent_names=names,
            obs_shape=obs_shape,
            obs_low=-np.inf,
            obs_high=np.inf,
            action_space=space,
            max_steps=int(max_steps or 1000),
            sensors=sensors,
        )
        self.num_envs = self.bridge.table.num_areas

    @staticmethod
    def _expected_spec(expect: str) -> EnvSpec:
        valid = games()
        if expect not in valid:
            raise UnitySetupError(f"env.expect={expect!r}: valid are {valid} or null")
        return game(expect).env().spec

    # ---------------------------------------------------------------- batch callbacks
    def _check_batch(self, n: int) -> None:
        if n != self.num_envs:
            raise UnitySetupError(
                f"the Unity build has {self.num_envs} areas, so it runs batches of exactly "
                f"{self.num_envs} envs, not {n}"
            )

    def reset_batch(self, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        self._check_batch(keys.shape[0])
        shape = (self.num_envs, self.spec.num_agents, self.bridge.obs_size)
        obs_struct = jax.ShapeDtypeStruct(shape, jnp.float32)
        obs = io_callback(lambda: self.bridge.reset(), obs_struct, ordered=True)
        return obs, jnp.zeros((self.num_envs,), jnp.int32)

    def step_batch(
        self, keys: jax.Array, state: jax.Array, actions: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, StepInfo]:
        self._check_batch(keys.shape[0])
        e, a = self.num_envs, self.spec.num_agents
        f32, boolean = jnp.float32, jnp.bool_
        shapes = (
            jax.ShapeDtypeStruct((e, a, self.bridge.obs_size), f32),
            jax.ShapeDtypeStruct((e, a), f32),
            jax.ShapeDtypeStruct((e, a), boolean),
            jax.ShapeDtypeStruct((e, a), f32),
            jax.ShapeDtypeStruct((e, a), boolean),
            jax.ShapeDtypeStruct((e, a), boolean),
            jax.ShapeDtypeStruct((e, a, self.bridge.obs_size), f32),
        )
        out = io_callback(lambda x: self.bridge.step(np.asarray(x)), shapes, actions, ordered=True)
        obs, reward, done, group_reward, terminated, truncated, terminal_obs = out
        info = StepInfo(
            group_reward=group_reward,
            terminated=terminated,
            truncated=truncated,
            terminal_obs=terminal_obs,
        )
        return obs, state + 1, reward, done, info

    # The per-env functions have no meaning for a build that steps all areas at once.
    def reset(self, key: jax.Array) -> tuple[jax.Array, Any]:
        raise NotImplementedError("a Unity build resets all its areas at once: use reset_batch")

    def step_env(self, key, state, actions):
        raise NotImplementedError("a Unity build steps all its areas at once: use step_batch")

    def close(self) -> None:
        self.bridge.close()


# Scripted players, rendering and the behaviour name are those of the JAX game a build matches
# (its spec takes that game's name), so the record holds only the adapter.
GAME = Game(name="unity", env=UnityEnv, adapter=True)
