"""PASER's Concept Consistency Graph (NTEM, §3.3), as the official code does it.

Concepts are RAKE phrases of instruction + input + output. Nodes are concepts, an edge means "co-occurred in
an already-accepted sample". A candidate is rejected when any two of its concepts are both already nodes but no
edge joins them (it combines two known concepts no accepted sample combined); otherwise it is accepted and its
concepts are joined pairwise. The test is sequential and order-dependent (clusters in descending CDS, samples
in selection order) and catches novel co-occurrence, not contradiction; it applies to text candidates only.
"""

from __future__ import annotations

from itertools import combinations

import networkx as nx

from unlearnkit.recovery.filters.concepts import _stop_words, rake_phrases


class ConceptConsistencyGraph:
    def __init__(self, forbidden: frozenset[str] = frozenset()) -> None:
        self.graph = nx.Graph()
        self.forbidden = forbidden
        self._stop = _stop_words()

    def concepts(self, text: str) -> list[str]:
        return sorted(set(rake_phrases(text, self._stop)))

    def accept(self, text: str) -> bool:
        """Accept (and record) ``text`` unless it is inconsistent with the graph or names a forbidden concept."""
        cs = self.concepts(text)
        if self.forbidden.intersection(cs):
            return False
        for u, v in combinations(cs, 2):
            if self.graph.has_node(u) and self.graph.has_node(v) and not self.graph.has_edge(u, v):
                return False
        self.graph.add_nodes_from(cs)
        self.graph.add_edges_from(combinations(cs, 2))
        return True


__all__ = ["ConceptConsistencyGraph"]
