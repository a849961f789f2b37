"""The report of Lowe et al. (2017)'s MADDPG-vs-DDPG study (the ``lowe`` preset trains it,
``experiments.core.crossplay`` plays it): the pairings beside the paper's figures, cross-play, the
role-by-role verdict and the random yardstick, from the cross-play files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

ALGOS = ("maddpg", "ddpg")  # DDPG is MADDPG with a local critic
PUBLISHED_SOURCE = "Lowe et al. 2017 (NIPS), section 5, p. 8"
# Touches per episode the paper's main text gives (predators, prey); the other pairings are in
# its appendix tables, which could not be read from this machine.
PUBLISHED_TOUCHES = {("maddpg", "ddpg"): 16.1, ("ddpg", "maddpg"): 10.3}
PUBLISHED_DECEPTION = (
    "the paper reports success rates, not distances: MADDPG agents cover the target "
    "(deceive the adversary) about 94% of the time with 2 landmarks, and a DDPG adversary "
    "succeeds 16.4% of the time; success is judged by a distance threshold the paper does not "
    "give, so they are not computed here"
)

# Per task, each role's measure in cross-play and whether more of it is better for that role.
ROLES = {
    "predator_prey": (
        ("predators", "adversary", "touches", True),
        ("prey", "agent", "touches", False),
    ),
    "physical_deception": (
        ("adversary", "adversary", "adversary_distance", False),
        ("agents", "agent", "agent_return", True),
    ),
}


def combos() -> list[tuple[str, str]]:
    """``(adversary, agent)`` algorithm pairs, MADDPG first."""
    return list(itertools.product(ALGOS, ALGOS))


def _table(task: str, pairings: list[dict[str, Any]], same_run: bool) -> list[str]:
    """One row per pairing of algorithms: our mean (and per run), and the paper's figure."""
    metric = "touches" if task == "predator_prey" else "adversary_distance"
    extra = "" if task == "predator_prey" else "agent_distance"
    rows = []
    for adversary, agent in combos():
        chosen = [
            p
            for p in pairings
            if p["adversary"] == adversary
            and p["agent"] == agent
            and (p["same_run"] if same_run else not p["same_run"])
        ]
        if not chosen:
            continue
        values = [p[metric] for p in chosen]
        cell = f"{np.mean(values):.2f}" + (
            f" ({', '.join(f'{v:.2f}' for v in values)})" if same_run and len(values) > 1 else ""
        )
        row = f"| {adversary.upper()} | {agent.upper()} | {len(chosen)} | {cell} |"
        if extra:
            row += f" {np.mean([p[extra] for p in chosen]):.3f} |"
        elif not same_run:  # the paper's pairings trained together: nothing to put here
            row += " |"
        else:
            published = PUBLISHED_TOUCHES.get((adversary, agent))
            row += " not retrieved |" if published is None else f" {published} |"
        rows.append(row)
    return rows


def head_to_head(task: str, pairings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's verdict, per role: MADDPG's and DDPG's teams in that role, each against
    every *other* run's opposing team (cross-play), so both face the same opponents; the
    winner is the one whose measure is better for the role (more touches for predators, fewer
    for prey; a shorter adversary distance; a higher agents' return)."""
    rows = []
    for role, side, metric, higher in ROLES[task]:
        means = {
            algo: float(
                np.mean([p[metric] for p in pairings if p[side] == algo and not p["same_run"]])
            )
            for algo in ALGOS
            if any(p[side] == algo and not p["same_run"] for p in pairings)
        }
        if len(means) < len(ALGOS):
            continue
        better = max(means, key=means.get) if higher else min(means, key=means.get)
        rows.append(dict(role=role, metric=metric, higher_is_better=higher, better=better, **means))
    return rows


def _better_word(verdict: dict[str, Any]) -> str:
    return "higher" if verdict["higher_is_better"] else "lower"


def _random_table(result: dict[str, Any]) -> list[str]:
    """Each role's measure for MADDPG's and DDPG's trained teams against a random team, and
    for two random teams."""
    task, rows = result["task"], result.get("against_random")
    if not rows:
        return []
    lines = [
        f"**{task}**, each trained team against a uniformly random team (what each side learned):",
        "",
        "| role | measure | MADDPG | DDPG | random vs random |",
        "|---|---|---:|---:|---:|",
    ]
    for role, side, metric, _ in ROLES[task]:
        means = [
            np.mean([r[metric] for r in rows if r["side"] == side and r["algo"] == algo])
            for algo in ALGOS
        ]
        cells = " | ".join(f"{m:.3f}" for m in means)
        lines.append(f"| {role} | {metric} | {cells} | {result['both_random'][metric]:.3f} |")
    return [*lines, ""]


def report(results: list[dict[str, Any]]) -> str:
    """Markdown: per task, each combination as trained and in cross-play, beside the paper."""
    lines = [
        "Lowe et al. 2017's MADDPG vs DDPG on JaxMARL's MPE (both teams trained together; "
        f"published: {PUBLISHED_SOURCE})",
        "",
    ]
    for result in results:
        task = result["task"]
        if task == "predator_prey":
            head = "| predators | prey | pairings | touches per episode (per run) | published |"
            rule = "|---|---|---:|---|---:|"
        else:
            head = (
                "| adversary | agents | pairings | adversary distance to target (per run) "
                "| agents' nearest distance |"
            )
            rule = "|---|---|---:|---|---:|"
        steps = result["env_steps_per_team"]
        for title, same in (("as trained", True), ("cross-play (other runs' teams)", False)):
            rows = _table(task, result["pairings"], same)
            if rows:
                lines += [
                    f"**{task}** ({result['env_id']}, {result.get('actions', 'discrete')} "
                    f"actions, {steps:,} env steps per team, "
                    f"{result['episodes']} episodes per pairing), {title}:",
                    "",
                    head,
                    rule,
                    *rows,
                    "",
                ]
        lines += _random_table(result)
        verdict = head_to_head(task, result["pairings"])
        if verdict:
            lines += [
                f"**{task}**, head to head (cross-play: each role's MADDPG and DDPG teams "
                "against the same opponents):",
                "",
                "| role | measure | MADDPG | DDPG | better |",
                "|---|---|---:|---:|---|",
                *(
                    f"| {v['role']} | {v['metric']} ({_better_word(v)}"
                    f" is better) | {v['maddpg']:.3f} | {v['ddpg']:.3f} | {v['better'].upper()} |"
                    for v in verdict
                ),
                "",
            ]
        if task == "physical_deception":
            lines += [f"Published: {PUBLISHED_DECEPTION}.", ""]
    return "\n".join(lines)


def write_report(crossplay_dir: Path, tables_dir: Path) -> Path:
    """``tables_dir/lowe.md`` from every task's cross-play file (``<task>.json``)."""
    files = sorted(crossplay_dir.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no cross-play results in {crossplay_dir}; run that stage first")
    tables_dir.mkdir(parents=True, exist_ok=True)
    path = tables_dir / "lowe.md"
    path.write_text(report([json.loads(f.read_text()) for f in files]))
    return path
