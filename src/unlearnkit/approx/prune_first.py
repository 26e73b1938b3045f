"""Prune first, then unlearn: one-shot global magnitude pruning, masked retraining, then any unlearning method.

Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv 2304.04934 (official
code: ``OPTML-Group/Unlearn-Sparse``, ``pruner/utils.py``, ``main_imp.py``, ``main_forget.py``). The paper
bounds the unlearning error of approximate methods by ‖m ⊙ (θ_t − θ_0)‖₂ for a pruning mask m, so a sparse
model brings FT/GA/IU closer to Retrain. Steps::

    m     = 1[|θ_o| among the largest (1 − s) fraction of all prunable weights]   (global L1, one shot)
    θ_p   = masked training of m ⊙ θ on D = D_r ∪ D_f   (OMP's retraining after the prune)
    θ_u   = inner(θ_p; D_f, D_r) with m kept: pruned weights stay exactly 0

Deviations, both forced by what an unlearning call receives: (1) the official OMP rewinds the surviving
weights to an early checkpoint (epoch 8) and retrains with the rewound schedule; the training trajectory is
not available here, so the rewind point is θ_o itself and ``retrain_epochs`` of masked training on D follow
(pruning is model preparation that happens before the deletion request, which is why D_f takes part).
(2) Unlearn-Sparse prunes only ``Conv2d`` weights; the zoo's models are MLPs and transformers, so every
``nn.Linear`` weight is prunable — biases, norms and embeddings never, the classifier head only with
``prune_head``. The mask is held by ``torch.nn.utils.prune`` during retraining and unlearning (pruned
entries get no update) and then baked into the weights: the returned model has no masks, hooks or
``weight_orig`` left, and its pruned weights are exactly +0.0.

Needs: forget and retain (as the inner method). Cost: the inner method's plus ``retrain_epochs`` over D
(preparation). ``UnlearnResult.seconds`` (the RTE) counts the unlearning step only; the preparation's time is
``metadata["prepare_seconds"]`` and the sum ``metadata["total_seconds"]``. Failure modes: high sparsity
without enough retraining costs test accuracy (Retrain's TA also drops a few points at 95% in the paper); an
inner method that replaces parameter tensors wholesale (instead of updating them) would bypass the mask, so the
mask is re-applied when baking.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.nn.utils import prune

from unlearnkit.approx._common import (
    OPTIMIZERS,
    MethodConfig,
    StepCounter,
    build_result,
    ce_loss,
    clone_model,
    config_from_dict,
    make_optimizer,
    require,
    stopwatch,
    train_loop,
)
from unlearnkit.data import concat
from unlearnkit.registry import get_method, register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneFirstConfig(MethodConfig):
    """Prune-then-unlearn hyper-parameters; sparsity from ``main_imp.py`` (``--rate 0.95``), inner FT."""

    sparsity: float = field(
        default=0.95, metadata={"help": "fraction of prunable weights set to 0, global magnitude [0, 1)"}
    )
    prune_head: bool = field(default=False, metadata={"help": "also prune the classifier head (official: never FC)"})
    retrain_epochs: int = field(
        default=10, metadata={"help": "masked training epochs on D_r ∪ D_f after pruning (>= 0)"}
    )
    retrain_lr: float = field(default=1e-3, metadata={"help": "learning rate of the masked retraining (> 0)"})
    retrain_optimizer: str = field(default="adam", metadata={"help": "optimizer of the masked retraining"})
    retrain_batch_size: int = field(default=128, metadata={"help": "minibatch size of the masked retraining"})
    inner: str = field(default="ft", metadata={"help": "registered method run on the sparse model (ft, ga, iu, ...)"})
    inner_config: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "overrides of the inner method's config (its own keys)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 <= self.sparsity < 1, f"sparsity must lie in [0, 1), got {self.sparsity}")
        require(self.retrain_epochs >= 0, f"retrain_epochs must be >= 0, got {self.retrain_epochs}")
        require(self.retrain_lr > 0, f"retrain_lr must be > 0, got {self.retrain_lr}")
        require(self.retrain_optimizer in OPTIMIZERS, f"retrain_optimizer must be one of {OPTIMIZERS}")
        require(self.retrain_batch_size >= 1, f"retrain_batch_size must be >= 1, got {self.retrain_batch_size}")
        require(bool(self.inner) and self.inner != "prune_first", f"inner must name another method, got {self.inner!r}")
        require(isinstance(self.inner_config, dict), "inner_config must be a mapping of the inner method's keys")
        require("max_steps" not in self.inner_config, "set max_steps on prune_first, not in inner_config")


def prunable_linears(model: nn.Module, prune_head: bool = False) -> list[tuple[str, nn.Linear]]:
    """``(name, module)`` of every ``nn.Linear`` whose weight may be pruned (the head only if asked)."""
    head = getattr(model, "head", None)
    return [
        (name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and (prune_head or m is not head)
    ]


@torch.no_grad()
def bake_pruning(model: nn.Module, order: dict[str, list[str]] | None = None) -> dict[str, torch.Tensor]:
    """Remove every ``torch.nn.utils.prune`` reparametrisation, leaving exact +0.0 where the mask is 0.

    ``order`` (module name → parameter names before pruning) restores each module's parameter order, which
    ``prune`` changes (``weight`` is re-registered after ``bias``), so the state dict keeps its key order.
    Returns the masks (bool, True = kept) by weight name.
    """
    masks = {}
    for name, module in model.named_modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                tensor_name = hook._tensor_name
                keep = getattr(module, f"{tensor_name}_mask").bool().clone()
                prune.remove(module, tensor_name)
                weight = getattr(module, tensor_name)
                weight.copy_(torch.where(keep, weight, torch.zeros_like(weight)))
                masks[f"{name}.{tensor_name}" if name else tensor_name] = keep
        names = (order or {}).get(name)
        if names and set(names) == set(module._parameters):
            params = dict(module._parameters)
            module._parameters.clear()
            module._parameters.update((k, params[k]) for k in names)
    return masks


@register_method(
    "prune_first",
    task="classification",
    needs=("forget", "retain"),
    paper="Jia et al., Model Sparsity Can Simplify Machine Unlearning (prune first), NeurIPS 2023 (arXiv 2304.04934)",
)
class PruneFirst(Unlearner):
    """Global magnitude pruning of Linear weights, masked retraining on D, then the inner method with the mask."""

    config_cls = PruneFirstConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"sparsity": [0.5, 0.8, 0.95]}
    # The paper's sparsity sweep (0.5-0.95) with the inner methods it reports (FT, GA, IU at their defaults).
    search_grid: ClassVar[dict[str, list]] = {
        "sparsity": [0.5, 0.8, 0.95],
        "inner": ["ft", "iu"],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: PruneFirstConfig = self.config
        inner_info = get_method(cfg.inner)
        inner_cfg = config_from_dict(inner_info.cls.config_cls, cfg.inner_config)
        counter = StepCounter(cfg.max_steps)
        history: list[dict[str, Any]] = []
        with stopwatch() as clock:
            start = time.perf_counter()
            out = clone_model(model, ctx)
            linears = prunable_linears(out, cfg.prune_head)
            require(bool(linears), f"{type(out).__name__} has no prunable nn.Linear weights")
            order = {name: list(m._parameters) for name, m in linears}
            targets = [(m, "weight") for _, m in linears]
            prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=cfg.sparsity)
            if cfg.retrain_epochs:
                opt = make_optimizer(cfg.retrain_optimizer, out.parameters(), cfg.retrain_lr, weight_decay=0.0)
                rows = train_loop(
                    out,
                    concat([split.retain, split.forget]) if len(split.forget) else split.retain,
                    epochs=cfg.retrain_epochs,
                    batch_size=cfg.retrain_batch_size,
                    optimizer=opt,
                    loss_fn=ce_loss,
                    generator=ctx.generator(self.name, "retrain"),
                    counter=counter,
                )
                history += [{**row, "phase": "retrain"} for row in rows]
            prep_seconds = time.perf_counter() - start
            if counter.remaining is not None:
                inner_cfg = dataclasses.replace(inner_cfg, max_steps=counter.remaining)
            inner = inner_info.cls(inner_cfg)
            result = inner.unlearn(out, split, ctx=dataclasses.replace(ctx, inplace=True))
            final = result.model
            masks = bake_pruning(final, order)
        zeros = sum(int((~m).sum()) for m in masks.values())
        total = sum(m.numel() for m in masks.values())
        history += [{**row, "phase": f"inner:{cfg.inner}"} for row in result.history]
        metadata = {
            "inner": cfg.inner,
            "inner_config": result.config,
            "inner_steps": result.steps,
            "inner_metadata": result.metadata,
            "inner_seconds": result.seconds,
            "prepare_seconds": prep_seconds,
            "retrain_steps": counter.steps,
            "pruned_weights": sorted(masks),
            "sparsity": zeros / max(total, 1),
        }
        metadata["total_seconds"] = clock[0]
        # RTE is the unlearning step (inner method + baking the mask): pruning and masked retraining are model
        # preparation done before any deletion request, reported apart as prepare_seconds.
        return build_result(
            self,
            final,
            seconds=max(clock[0] - prep_seconds, 0.0),
            steps=counter.steps + result.steps,
            history=history,
            metadata=metadata,
        )
