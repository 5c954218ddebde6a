"""Pure-Python graph code: a setup that takes tens of ms, bodies from microseconds to ms."""

import random


def build(nodes: int, degree: int = 12, seed: int = 0) -> dict[int, list[int]]:
    """A random graph as adjacency lists (each node linked to ``degree`` others, both ways)."""
    rng = random.Random(seed)
    adjacency: dict[int, set[int]] = {n: set() for n in range(nodes)}
    for node in range(nodes):
        for other in rng.sample(range(nodes), min(degree, nodes - 1)):
            if other != node:
                adjacency[node].add(other)
                adjacency[other].add(node)
    return {node: sorted(links) for node, links in adjacency.items()}


def bfs(adjacency: dict[int, list[int]], start: int, share: int) -> int:
    """Breadth-first distances from ``start`` until ``share``/40 of the nodes are expanded.

    The work is proportional to ``share``: 20 expands half the graph, 23 expands 15 % more.
    """
    limit = len(adjacency) * share // 40
    distance = {start: 0}
    queue = [start]
    for expanded, node in enumerate(queue):
        if expanded >= limit:
            break
        for other in adjacency[node]:
            if other not in distance:
                distance[other] = distance[node] + 1
                queue.append(other)
    return sum(distance.values())


def degrees(adjacency: dict[int, list[int]], count: int) -> int:
    """The summed degree of the first ``count`` nodes: a microsecond-scale body."""
    return sum(len(adjacency[node]) for node in range(count))


def neighbour_sum(adjacency: dict[int, list[int]], node: int) -> int:
    return sum(adjacency[node])
