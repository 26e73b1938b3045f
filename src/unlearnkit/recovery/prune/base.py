"""What every pruner shares: which weights are prunable, masks (keep = True), N:M patterns, calibration.

A *prunable weight* is the 2-D weight of an ``nn.Linear`` or of a transformers ``Conv1D`` (GPT-2 stores it
transposed: ``(in, out)``), never an embedding, a norm, a bias or the output head. Scores are always laid out
as ``(out, in)`` so that "per output row" and "N of every M inputs" mean the same thing for both kinds.

Calibration (Wanda) runs the model on *retain* data only: forget data shapes the pruned topology otherwise
("Un-pruning", arXiv 2507.18725), so a pruner is never handed the forget set and records the calibration set's
id hash with the masks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import MethodConfig, require
from unlearnkit.errors import ConfigError
from unlearnkit.recovery._registry import lookup, registrar

#: name -> pruner class; filled by :func:`register_pruner` (one file per pruner)
PRUNERS: dict[str, type[Pruner]] = {}
PATTERNS = ("unstructured", "row", "n:m", "neuron")


_register = registrar(PRUNERS, "pruner")


def register_pruner(name: str, *, paper: str = "") -> Callable[[type[Pruner]], type[Pruner]]:
    return _register(name, paper=paper)


def get_pruner(name: str) -> type[Pruner]:
    return lookup(PRUNERS, "pruner", "unlearnkit.recovery.prune", name)


@dataclass(frozen=True)
class PruneConfig(MethodConfig):
    """Sparsity and its pattern. ``row`` compares weights within each output row (Wanda's default group);
    ``n:m`` keeps ``n`` of every ``m`` consecutive inputs per row (2:4 semi-structured, Wanda's Table 3);
    ``neuron`` is structured: whole output rows (neurons / channels) with the lowest summed score are zeroed,
    shapes unchanged (LLM-Pruner-style structure without its dependency graph)."""

    sparsity: float = field(default=0.5, metadata={"help": "fraction of each prunable weight set to 0 [0, 1)"})
    pattern: str = field(default="row", metadata={"help": "unstructured (per layer) | row | n:m | neuron"})
    n: int = field(default=2, metadata={"help": "weights kept per group of m (pattern n:m)"})
    m: int = field(default=4, metadata={"help": "group size (pattern n:m)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.sparsity < 1, f"sparsity must lie in [0, 1), got {self.sparsity}")
        require(self.pattern in PATTERNS, f"pattern must be one of {', '.join(PATTERNS)}, got {self.pattern!r}")
        require(1 <= self.n < self.m, f"n:m needs 1 <= n < m, got {self.n}:{self.m}")


def _is_conv1d(module: nn.Module) -> bool:
    return type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every prunable Linear/Conv1D, the output head excluded (``head`` / ``lm_head``)."""
    heads = {id(getattr(model, a)) for a in ("head", "lm_head") if isinstance(getattr(model, a, None), nn.Module)}
    out = []
    for name, m in model.named_modules():
        if id(m) in heads or name.endswith("lm_head"):
            continue
        if isinstance(m, nn.Linear) or _is_conv1d(m):
            out.append((name, m))
    return out


def weight_out_in(module: nn.Module) -> torch.Tensor:
    """The weight as ``(out, in)`` (a view: Conv1D's is transposed)."""
    w = module.weight
    return w.t() if _is_conv1d(module) else w


def in_features(module: nn.Module) -> int:
    return int(weight_out_in(module).shape[1])


def mask_from_scores(scores: torch.Tensor, cfg: PruneConfig) -> torch.Tensor:
    """Keep-mask ``(out, in)`` removing the lowest scores: per layer, per row, or N of every M inputs."""
    out_f, in_f = scores.shape
    if cfg.sparsity == 0 and cfg.pattern != "n:m":
        return torch.ones_like(scores, dtype=torch.bool)
    if cfg.pattern == "unstructured":
        k = int(scores.numel() * cfg.sparsity)
        keep = torch.ones(scores.numel(), dtype=torch.bool)
        if k:
            keep[torch.argsort(scores.flatten(), stable=True)[:k]] = False
        return keep.view(out_f, in_f)
    if cfg.pattern == "row":
        k = int(in_f * cfg.sparsity)
        keep = torch.ones_like(scores, dtype=torch.bool)
        if k:
            keep.scatter_(1, torch.argsort(scores, dim=1, stable=True)[:, :k], False)
        return keep
    if cfg.pattern == "neuron":
        k = int(out_f * cfg.sparsity)
        keep = torch.ones_like(scores, dtype=torch.bool)
        if k:
            keep[torch.argsort(scores.sum(1), stable=True)[:k]] = False
        return keep
    if in_f % cfg.m:
        raise ConfigError(f"n:m pruning needs input width divisible by m={cfg.m}, got {in_f}")
    groups = scores.view(out_f, in_f // cfg.m, cfg.m)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(2, torch.topk(groups, cfg.n, dim=2, sorted=False).indices, True)
    return keep.view(out_f, in_f)


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Zero every pruned weight (masks by module name, laid out ``(out, in)``); exact +0.0 where masked."""
    modules = dict(model.named_modules())
    for name, keep in masks.items():
        w = weight_out_in(modules[name])
        w.mul_(keep.to(w.dtype))
        w.add_(0.0)  # turn −0.0 into +0.0


def masks_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """The keep-masks a pruned model implies (non-zero weights), for keeping sparsity while recovering."""
    return {name: weight_out_in(m).detach() != 0 for name, m in prunable(model)}


def sparsity_of(model: nn.Module) -> float:
    total = zeros = 0
    for _, m in prunable(model):
        w = m.weight
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / max(total, 1)


@dataclass
class PruneResult:
    """The pruned model (a copy), its masks and what was recorded (sparsity, calibration id hash)."""

    model: nn.Module
    masks: dict[str, torch.Tensor]
    record: dict[str, Any]


class Pruner:
    """Score every prunable weight ``(out, in)``; masks come from :func:`mask_from_scores`."""

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    config_cls: ClassVar[type[PruneConfig]] = PruneConfig
    needs_calibration: ClassVar[bool] = False

    def __init__(self, config: PruneConfig | None = None, **overrides: Any) -> None:
        from unlearnkit.approx._common import config_from_dict, config_to_dict

        base = config_to_dict(config) if config is not None else {}
        self.config = config_from_dict(self.config_cls, {**base, **overrides})

    def scores(self, model: nn.Module, calibration: Iterator[Any] | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def prune(self, model: nn.Module, calibration: Any = None, *, calibration_hash: str | None = None) -> PruneResult:
        """A pruned copy of ``model`` (the input is never changed). ``calibration``: retain data only."""
        import copy

        from unlearnkit.approx._common import config_to_dict

        if self.needs_calibration and calibration is None:
            raise ConfigError(f"pruner {self.name!r} needs calibration data (retain rows only)")
        pruned = copy.deepcopy(model).eval()
        with torch.no_grad():
            scores = self.scores(pruned, calibration)
        masks = {name: mask_from_scores(s, self.config) for name, s in scores.items()}
        apply_masks(pruned, masks)
        record = {
            "pruner": self.name,
            "config": config_to_dict(self.config),
            "sparsity": sparsity_of(pruned),
            "layers": len(masks),
            "calibration_ids_hash": calibration_hash,
        }
        return PruneResult(pruned, masks, record)


__all__ = [
    "PATTERNS",
    "PRUNERS",
    "PruneConfig",
    "PruneResult",
    "Pruner",
    "apply_masks",
    "get_pruner",
    "in_features",
    "mask_from_scores",
    "masks_of",
    "prunable",
    "register_pruner",
    "sparsity_of",
    "weight_out_in",
]
