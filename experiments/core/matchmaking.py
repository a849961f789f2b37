"""Which pairs a league plays next: three rules, one per question a league answers.

A *leg* is one pair played once on each side (two matches). ``legs[pair]`` counts a pair's
complete legs; a round returns ``(a, b)`` pairs, each player at most once, and the league
plays the next leg of each.

- ``hf``: Hugging Face's AI-vs-AI rule (Cochet & Simonini, "Introducing AI vs. AI", HF blog
  2023): a shuffled queue; the first player is matched with a random one of the ``closest``
  nearest in ELO that it has not played. Every pair once, close ratings first. The blog gives
  the rule, the start rating (1200) and equal-and-opposite updates; it does not give ``n`` or
  K, and the Space's code could not be reached from here, so ``closest`` = 3 and K = 16 are
  this package's choices.
- ``least-played``: the pairs with the fewest legs first and, among them, the players with
  the fewest games. With a budget smaller than the pool, every player gets about the same
  number of games; every pair is played once before any is played twice.
- ``separate``: every pair once, then more legs of the neighbours in the Bradley–Terry order
  whose 95% bootstrap intervals overlap, until every neighbouring pair separates or the
  budget is spent: games go where the order is still unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

MATCHMAKING = ("hf", "least-played", "separate")

Pair = frozenset[str]


def hf_round(
    names: Sequence[str],
    ratings: Mapping[str, float],
    unplayed: set[Pair],
    closest: int,
    rng: np.random.Generator,
) -> list[tuple[str, str]]:
    """One round of HF's matchmaking over the unplayed pairs: pop the first player of a
    shuffled queue, pair it with a random one of its ``closest`` nearest-rated players among
    those it has not played, until one or none is left."""
    queue = [n for n in names if any(n in pair for pair in unplayed)]
    queue = [queue[i] for i in rng.permutation(len(queue))]
    pairs = []
    while len(queue) > 1:
        first = queue.pop(0)
        candidates = [q for q in queue if frozenset((first, q)) in unplayed]
        if not candidates:
            continue
        candidates.sort(key=lambda q: (abs(ratings[q] - ratings[first]), q))
        second = candidates[int(rng.integers(min(closest, len(candidates))))]
        queue.remove(second)
        pairs.append((first, second))
    return pairs


def least_played_round(
    legs: Mapping[Pair, int], games: Mapping[str, int], rng: np.random.Generator
) -> list[tuple[str, str]]:
    """Pairs with the fewest legs, then the fewest games between their players (ties broken
    at random), taken greedily so that each player plays once in the round."""
    pairs = sorted(legs, key=lambda p: tuple(sorted(p)))
    tiebreak = rng.permutation(len(pairs))
    order = sorted(
        range(len(pairs)),
        key=lambda i: (legs[pairs[i]], sum(games.get(n, 0) for n in pairs[i]), tiebreak[i]),
    )
    fewest = legs[pairs[order[0]]] if pairs else 0
    return _greedy([pairs[i] for i in order if legs[pairs[i]] == fewest])


def separating_round(ranking: pd.DataFrame) -> list[tuple[str, str]]:
    """Neighbours in ``ranking`` (best first, with ``bt_low`` and ``bt_high``) whose intervals
    overlap, the closest first, each player once; none when the order is settled."""
    rows = ranking.sort_values("bt", ascending=False).reset_index(drop=True)
    names, low, high = rows["name"], rows["bt_low"].to_numpy(), rows["bt_high"].to_numpy()
    overlap = high[1:] - low[:-1]  # how far the lower neighbour's interval reaches up
    closest = [i for i in np.argsort(-overlap, kind="stable") if overlap[i] >= 0]
    return _greedy([frozenset((names[i], names[i + 1])) for i in closest])


def _greedy(pairs: Sequence[Pair]) -> list[tuple[str, str]]:
    busy: set[str] = set()
    out = []
    for pair in pairs:
        if not pair & busy:
            a, b = sorted(pair)
            out.append((a, b))
            busy |= pair
    return out
