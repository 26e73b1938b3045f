"""Graph unlearning on torch_geometric: graphs with owned nodes and edges, GNNs, GNNDelete, D2DGN.

Needs the ``graph`` extra (``pip install 'unlearnkit[graph]'``). Layout:

- :mod:`~unlearnkit.graph.data` — :class:`GraphData`: undirected edges stored once, stable node/edge ids,
  owners; :mod:`~unlearnkit.graph.datasets` — generated (SBM, planted partition), networkx's bundled graphs,
  Planetoid/OGB (downloaded when a user runs them).
- :mod:`~unlearnkit.graph.tasks` — GNNDelete's link split, node split, and deletion requests (edges
  random / in / out, nodes, node features, an owner) as :class:`GraphDeletion`.
- :mod:`~unlearnkit.graph.models` — GCN/GAT/GIN/GraphSAGE encoders that carry their served graph;
  :mod:`~unlearnkit.graph.train` — training loops.
- :mod:`~unlearnkit.graph.methods` — one file per method, registered with ``family="graph"``.
- :mod:`~unlearnkit.graph.metrics` — GNNDelete's metrics, registered with their direction;
  :mod:`~unlearnkit.graph.mia` — the membership-inference attack; :mod:`~unlearnkit.graph.io` — model files.
"""

from __future__ import annotations

try:
    import torch_geometric  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("unlearnkit.graph needs the graph extra: pip install 'unlearnkit[graph]'") from exc
