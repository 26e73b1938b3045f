"""S2RIC's clustering: a manifold embedding of the candidates, then spectral clustering (scikit-learn).

PASER (§3.1) embeds instructions, builds a Gaussian affinity with the median distance as bandwidth, takes the
K eigenvectors of the random-walk Laplacian with the smallest eigenvalues and clusters them by NMF of
S = |E Eᵀ| (label = argmax of W). The official code forms dense N×N matrices and runs the symmetric solver on
the non-symmetric D⁻¹A. Here the embedding is ``sklearn.manifold.SpectralEmbedding`` on a sparse k-nearest-
neighbour graph (Laplacian eigenmaps, symmetric normalised), and the clusters come from k-means on it
(``method="kmeans"``, spectral clustering proper) or from the paper's NMF of |E Eᵀ| (``method="nmf"``, dense,
for a few thousand candidates at most). The silhouette of the clusters on the embedding is recorded, because
cluster quality must be checked, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from unlearnkit.errors import ConfigError

METHODS = ("kmeans", "nmf")


@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    silhouette: float | None
    method: str

    def record(self) -> dict[str, Any]:
        sizes = np.bincount(self.labels, minlength=self.k).tolist()
        return {"k": self.k, "method": self.method, "silhouette": self.silhouette, "sizes": sizes}


def spectral_clusters(
    embeddings: np.ndarray, k: int = 10, *, method: str = "kmeans", neighbors: int = 10, seed: int = 0
) -> Clustering:
    """Cluster labels 0..k'−1 (k' = min(k, n)), from a spectral embedding of a kNN graph."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import NMF
    from sklearn.manifold import SpectralEmbedding
    from sklearn.metrics import silhouette_score

    if method not in METHODS:
        raise ConfigError(f"cluster method must be one of {', '.join(METHODS)}, got {method!r}")
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ConfigError("no candidates to cluster")
    k = max(1, min(k, n))
    if k == 1 or n < 3:
        return Clustering(np.zeros(n, dtype=np.int64), 1, None, method)
    nn_ = max(2, min(neighbors, n - 1))
    dims = min(k, n - 1)
    emb = SpectralEmbedding(
        n_components=dims, affinity="nearest_neighbors", n_neighbors=nn_, random_state=seed
    ).fit_transform(x)
    if method == "kmeans":
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(emb)
    else:
        sim = np.abs(emb @ emb.T)
        w = NMF(n_components=k, init="random", random_state=seed, max_iter=500).fit_transform(sim)
        labels = w.argmax(1)
    # relabel to 0..k'-1 in order of first appearance (empty NMF components vanish)
    _, labels = np.unique(labels, return_inverse=True)
    k_found = int(labels.max()) + 1
    sil = float(silhouette_score(emb, labels)) if 1 < k_found < n else None
    return Clustering(labels.astype(np.int64), k_found, sil, method)


__all__ = ["METHODS", "Clustering", "spectral_clusters"]
