"""The Unity side of the ML-Agents gRPC protocol, played by our JAX games: a stand-in build.

No Unity build can be downloaded here, so the tests launch this script the way
``UnityEnvironment`` launches ``SoccerTwos.x86_64`` (``tests/standin/*.x86_64`` are thin
wrappers around it). Like a build it is the gRPC *client*: it connects to the Python
trainer's ``UnityToExternalProto`` server on ``--mlagents-port`` and calls ``Exchange``,
sending ``UnityOutputProto`` (agent infos per team behaviour) and receiving the trainer's
commands and actions. That exercises the real mlagents-envs client, the real wire format
and ``envs.unity``'s mapping.

What it mimics of a Unity build:

- behaviours ``<Game>?team=0`` / ``?team=1``; one multi-agent group per team and area with
  Unity-like ids (fields register their two groups one after the other); agent ids that are
  not in agent-axis order;
- each sensor of the game's ``EnvSpec.sensors`` as its own observation (SoccerTwos: the 264
  forward and 72 reverse ray floats);
- at an episode end, each agent's terminal step and its next episode's first decision in
  the same message, with ``max_step_reached`` on time-outs;
- ``--max-decisions N``: episodes time out after N decisions (``max_step_reached``);
- ``--leave-at K``: agent 1 (``blue_1``) leaves each episode after K decisions (a terminal
  step while its teammate plays on), as an agent removed from its group does.
"""

from __future__ import annotations

import argparse
import sys

import grpc
import jax
import numpy as np
from mlagents_envs.communicator_objects.agent_info_pb2 import AgentInfoProto
from mlagents_envs.communicator_objects.brain_parameters_pb2 import (
    ActionSpecProto,
    BrainParametersProto,
)
from mlagents_envs.communicator_objects.capabilities_pb2 import UnityRLCapabilitiesProto
from mlagents_envs.communicator_objects.command_pb2 import QUIT, RESET
from mlagents_envs.communicator_objects.header_pb2 import HeaderProto
from mlagents_envs.communicator_objects.observation_pb2 import ObservationProto
from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto
from mlagents_envs.communicator_objects.unity_rl_initialization_output_pb2 import (
    UnityRLInitializationOutputProto,
)
from mlagents_envs.communicator_objects.unity_rl_output_pb2 import UnityRLOutputProto
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import (
    UnityToExternalProtoStub,
)

import envs
from envs.base import MultiDiscrete


class StandIn:
    """One 'build': ``areas`` copies of a JAX game stepped together."""

    def __init__(
        self, game: str, areas: int, leave_at: int | None, seed: int, max_decisions: int | None
    ) -> None:
        period = envs.make(game).decision_period
        options = {} if max_decisions is None else {"max_physics_steps": max_decisions * period}
        self.env = envs.make(game, **options)
        self.spec = self.env.spec
        self.behaviour, self.sensors = envs.game(game).behaviour, self.spec.sensors
        self.areas, self.leave_at = areas, leave_at
        self.grouped = len(self.spec.team_agents(0)) > 1
        self.key = jax.random.PRNGKey(seed)
        self._reset = jax.jit(self.env.reset_batch)
        self._step = jax.jit(self.env.step_batch)
        n = self.spec.num_agents
        # agent ids: unique, increasing inside a team's group but not in area order (Unity
        # assigns them by spawn order)
        self.agent_id = 5 + 3 * (np.arange(n)[None, :] * areas + np.arange(areas)[::-1, None])
        self.decisions = np.zeros(areas, int)
        self.gone = np.zeros((areas, n), bool)  # agents that left the current episode
        self.deciding: dict[int, list[tuple[int, int]]] = {}
        self.state = None

    def behaviour_name(self, team: int) -> str:
        return f"{self.behaviour}?team={team}"

    def brain_parameters(self) -> list[BrainParametersProto]:
        space = self.spec.action_space
        if isinstance(space, MultiDiscrete):
            action = ActionSpecProto(
                num_discrete_actions=len(space.branches), discrete_branch_sizes=space.branches
            )
        else:
            action = ActionSpecProto(num_continuous_actions=space.shape[0])
        return [
            BrainParametersProto(
                brain_name=self.behaviour_name(t), is_training=True, action_spec=action
            )
            for t in range(2)
        ]

    def info(
        self,
        area: int,
        agent: int,
        obs: np.ndarray,
        reward: float,
        group_reward: float,
        done: bool = False,
        max_step: bool = False,
    ) -> AgentInfoProto:
        team = self.spec.teams[agent]
        observations, start = [], 0
        for name, size in self.sensors:
            observations.append(
                ObservationProto(
                    shape=[size],
                    float_data=ObservationProto.FloatData(data=obs[start : start + size].tolist()),
                    name=name,
                )
            )
            start += size
        return AgentInfoProto(
            reward=float(reward),
            done=done,
            max_step_reached=max_step,
            id=int(self.agent_id[area, agent]),
            observations=observations,
            group_id=1 + 2 * area + team if self.grouped else 0,
            group_reward=float(group_reward),
        )

    def reset(self) -> dict[int, list[AgentInfoProto]]:
        self.key, k = jax.random.split(self.key)
        obs, self.state = self._reset(jax.random.split(k, self.areas))
        self.obs = np.asarray(obs)
        self.decisions[:] = 0
        self.gone[:] = False
        infos: dict[int, list[AgentInfoProto]] = {0: [], 1: []}
        self.deciding = {0: [], 1: []}
        # a build lists its agents in its own order: here area-major, team 1's areas reversed
        for team in range(2):
            areas = range(self.areas) if team == 0 else reversed(range(self.areas))
            for area in areas:
                for agent in self.spec.team_agents(team):
                    infos[team].append(self.info(area, agent, self.obs[area, agent], 0.0, 0.0))
                    self.deciding[team].append((area, agent))
        return infos

    def step(self, actions: dict[int, np.ndarray]) -> dict[int, list[AgentInfoProto]]:
        space = self.spec.action_space
        width = len(space.branches) if isinstance(space, MultiDiscrete) else space.shape[0]
        dtype = np.int32 if isinstance(space, MultiDiscrete) else np.float32
        joint = np.zeros((self.areas, self.spec.num_agents, width), dtype)
        for team, pairs in self.deciding.items():
            for (area, agent), action in zip(pairs, actions[team], strict=True):
                joint[area, agent] = action
        self.key, k = jax.random.split(self.key)
        obs, self.state, reward, done, info = self._step(
            jax.random.split(k, self.areas), self.state, joint
        )
        obs, reward, done = np.asarray(obs), np.asarray(reward), np.asarray(done)
        group_reward, truncated = np.asarray(info.group_reward), np.asarray(info.truncated)
        terminal_obs = np.asarray(info.terminal_obs)
        self.decisions += 1
        infos: dict[int, list[AgentInfoProto]] = {0: [], 1: []}
        self.deciding = {0: [], 1: []}
        for area in range(self.areas):
            ended = bool(done[area].all())
            leaving = (
                self.leave_at is not None and not ended and self.decisions[area] == self.leave_at
            )
            for agent in range(self.spec.num_agents):
                team = self.spec.teams[agent]
                if self.gone[area, agent]:
                    continue
                left = bool(leaving) and agent == 1
                self.gone[area, agent] |= left
                infos[team].append(
                    self.info(
                        area,
                        agent,
                        terminal_obs[area, agent] if ended else obs[area, agent],
                        reward[area, agent],
                        group_reward[area, agent],
                        done=ended or left,
                        max_step=ended and bool(truncated[area, agent]),
                    )
                )
                if not (ended or left):
                    self.deciding[team].append((area, agent))
            if ended:  # the next episode's first decisions, in the same message
                self.decisions[area] = 0
                self.gone[area] = False
                for agent in range(self.spec.num_agents):
                    team = self.spec.teams[agent]
                    infos[team].append(self.info(area, agent, obs[area, agent], 0.0, 0.0))
                    self.deciding[team].append((area, agent))
        self.obs = obs
        return infos

    def output(self, infos: dict[int, list[AgentInfoProto]], with_brains: bool) -> UnityOutputProto:
        rl_output = UnityRLOutputProto()
        for team, values in infos.items():
            rl_output.agentInfos[self.behaviour_name(team)].value.extend(values)
        out = UnityOutputProto(rl_output=rl_output)
        if with_brains:  # a build announces a behaviour with the first agents that use it
            out.rl_initialization_output.brain_parameters.extend(self.brain_parameters())
        return out

    def actions(self, rl_input) -> dict[int, np.ndarray]:
        discrete = isinstance(self.spec.action_space, MultiDiscrete)
        result = {}
        for team in range(2):
            values = rl_input.agent_actions[self.behaviour_name(team)].value
            rows = [
                list(v.discrete_actions) if discrete else list(v.continuous_actions) for v in values
            ]
            if len(rows) != len(self.deciding[team]):
                raise RuntimeError(
                    f"{self.behaviour_name(team)}: {len(rows)} actions for "
                    f"{len(self.deciding[team])} deciding agents"
                )
            result[team] = np.asarray(rows)
        return result


def serve(port: int, standin: StandIn, timeout: float = 60.0) -> None:
    """Connect to the trainer on ``port`` and play until it closes the connection."""
    channel = grpc.insecure_channel(f"localhost:{port}")
    grpc.channel_ready_future(channel).result(timeout=timeout)
    stub = UnityToExternalProtoStub(channel)
    capabilities = UnityRLCapabilitiesProto(
        baseRLCapabilities=True,
        concatenatedPngObservations=True,
        compressedChannelMapping=True,
        hybridActions=True,
        trainingAnalytics=True,
        variableLengthObservation=True,
        multiAgentGroups=True,
    )
    hello = UnityOutputProto(
        rl_initialization_output=UnityRLInitializationOutputProto(
            name="StandIn",
            communication_version="1.5.0",
            package_version="2.3.0-standin",
            capabilities=capabilities,
        )
    )
    ok = HeaderProto(status=200)
    reply = stub.Exchange(UnityMessageProto(header=ok, unity_output=hello))
    seed = reply.unity_input.rl_initialization_input.seed
    standin.key = jax.random.PRNGKey(seed)
    message = stub.Exchange(UnityMessageProto(header=ok))  # the first command
    announced = False
    while message.header.status == 200:
        rl_input = message.unity_input.rl_input
        if rl_input.command == QUIT:
            break
        if rl_input.command == RESET or standin.state is None:
            infos = standin.reset()
        else:
            infos = standin.step(standin.actions(rl_input))
        out = standin.output(infos, with_brains=not announced)
        announced = True
        try:
            message = stub.Exchange(UnityMessageProto(header=ok, unity_output=out))
        except grpc.RpcError:  # the trainer closed the server
            break
    channel.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlagents-port", type=int, required=True)
    parser.add_argument("--game", choices=envs.games(), default="soccer_twos")
    parser.add_argument("--areas", type=int, default=2)
    parser.add_argument("--leave-at", type=int, default=None)
    parser.add_argument("--max-decisions", type=int, default=None, help="episode time limit")
    args, _ = parser.parse_known_args(argv)  # Unity's own flags (-batchmode, -logFile, ...)
    jax.config.update("jax_platforms", "cpu")
    standin = StandIn(args.game, args.areas, args.leave_at, 0, args.max_decisions)
    serve(args.mlagents_port, standin)


if __name__ == "__main__":
    main(sys.argv[1:])
