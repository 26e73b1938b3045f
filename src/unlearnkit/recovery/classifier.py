"""The classifier :class:`~unlearnkit.recovery.subject.Subject`: the zoo's models on labelled rows.

Embeddings are the reference's penultimate features (``features(x)`` on the zoo's models) or the raw rows;
degradation is the class-restricted JSD; recovery is full fine-tuning with Adam on the selection's true labels
(never the reference's soft targets, which carry mass on a forgotten class), with pruned weights held at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import per_sample_grads
from unlearnkit.context import derive_seed
from unlearnkit.data import IdDataset
from unlearnkit.errors import ConfigError
from unlearnkit.models.train import predict_logits
from unlearnkit.recovery.candidates import Candidates
from unlearnkit.recovery.divergence import class_jsd
from unlearnkit.recovery.prune.base import apply_masks, masks_of
from unlearnkit.recovery.subject import RecoveryTrainConfig, Subject


class ClassifierSubject(Subject):
    kind = "rows"

    def __init__(self, keep_classes: Sequence[int] | None = None) -> None:
        self.keep_classes = None if keep_classes is None else sorted(int(c) for c in keep_classes)

    @torch.no_grad()
    def embed(self, reference: nn.Module, cands: Candidates, how: str = "hidden", seed: int = 0) -> np.ndarray:
        x = cands.data.x  # type: ignore[union-attr]
        if how == "raw":
            return x.numpy().astype(np.float64)
        if how != "hidden":
            raise ConfigError(f"classifier candidates embed with 'hidden' or 'raw', not {how!r}")
        reference.eval()
        feats = reference.features(x) if hasattr(reference, "features") else x
        return feats.numpy().astype(np.float64)

    @torch.no_grad()
    def divergence(self, reference: nn.Module, current: nn.Module, cands: Candidates) -> np.ndarray:
        x = cands.data.x  # type: ignore[union-attr]
        return class_jsd(predict_logits(reference, x), predict_logits(current, x), self.keep_classes).numpy()

    def alignment(self, model: nn.Module, cands: Candidates, forget: Candidates) -> np.ndarray:
        g_forget = per_sample_grads(model, forget.data).mean(0)  # type: ignore[arg-type]
        g = per_sample_grads(model, cands.data)  # type: ignore[arg-type]
        return F.cosine_similarity(g, g_forget[None, :], dim=1).numpy()

    def train(self, model: nn.Module, cands: Candidates, cfg: RecoveryTrainConfig, seed: int) -> nn.Module:
        data = cands.data
        if data is None or len(data) == 0:
            return model
        masks = masks_of(model) if cfg.keep_sparsity else {}
        gen = torch.Generator().manual_seed(derive_seed(seed, "recovery-train"))
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        steps, n, done = cfg.steps_for(len(data)), len(data), 0
        model.train()
        while done < steps:
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, cfg.batch_size):
                idx = perm[start : start + cfg.batch_size]
                loss = F.cross_entropy(model(data.x[idx]), data.y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if masks:
                    apply_masks(model, masks)
                done += 1
                if done >= steps:
                    break
        return model.eval()

    @torch.no_grad()
    def forget_metrics(self, model: nn.Module, forget: Candidates) -> dict[str, float]:
        data = forget.data
        logits = predict_logits(model, data.x)  # type: ignore[union-attr]
        return {
            "accuracy": float((logits.argmax(1) == data.y).float().mean()),  # type: ignore[union-attr]
            "loss": float(F.cross_entropy(logits, data.y)),  # type: ignore[union-attr]
        }

    @torch.no_grad()
    def utility(self, model: nn.Module, data: Any) -> float:
        """Accuracy on ``data`` (an IdDataset) over the retained classes' rows."""
        if not isinstance(data, IdDataset):
            raise ConfigError("classifier utility needs an IdDataset")
        keep = torch.ones(len(data), dtype=torch.bool)
        if self.keep_classes is not None:
            keep = torch.isin(data.y, torch.as_tensor(self.keep_classes))
        logits = predict_logits(model, data.x[keep])
        return float((logits.argmax(1) == data.y[keep]).float().mean())


__all__ = ["ClassifierSubject"]
