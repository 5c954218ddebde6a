"""Graph benchmarks: a parameterized setup that builds the graph (tens of ms at 3000 nodes)."""

import scalelib
from scalelib import graph


class GraphSuite:
    params = [300, 1000, 3000]  # noqa: RUF012 (asv reads plain class lists)
    param_names = ["nodes"]  # noqa: RUF012

    def setup(self, nodes):
        self.graph = graph.build(nodes)

    def time_bfs(self, nodes):
        graph.bfs(self.graph, 0, scalelib.WORK["bfs"])

    def time_degrees(self, nodes):
        graph.degrees(self.graph, scalelib.WORK["lookup"])

    def time_neighbour_sum(self, nodes):
        graph.neighbour_sum(self.graph, nodes // 2)
