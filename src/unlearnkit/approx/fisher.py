"""Fisher forgetting: Gaussian noise shaped by the inverse Fisher of the retain data.

Golatkar, Achille, Soatto, "Eternal Sunshine of the Spotless Net: Selective Forgetting in Deep Networks",
CVPR 2020, arXiv 1911.04933 — as re-implemented in the SSD repository
(``if-loops/selective-synaptic-dampening``, ``forget_full_class_strategies.py::FisherForgetting``).

Scrubbing rule (paper Eq. 8 with the code's variance shaping)::

    F_i  = (1/n_r) Σ_{x ∈ D_r} Σ_c p(c|x) (∂ CE(f(x), c) / ∂θ_i)²       (true Fisher diagonal on D_r)
    σ²_i = α · min(1/(F_i + 1e-8), 1e3)      (head rows: min(·, 1e2))
    σ²   ← mean over each weight row (tensors with ndim > 1), ×10 for the head and for 1-D tensors
    θ_u  = μ + σ ⊙ ε,   ε ~ N(0, I),   μ = θ_o  except the forget-class head row: μ = 0, σ² = 10 · 1e-4

Parameters the retain data barely constrain (small F) receive large noise, which destroys what only the
forget data determined. The forget-class row of the head (weight and bias) is zeroed in class-wise mode
(``split.forget_class`` set), as the code does. Biases are 1-D tensors and get the ×10 the code intends
for BatchNorm; the zoo has no BatchNorm. The head is ``model.head`` when the model has one, else every
tensor whose first dimension equals the number of classes (the code's test).

Needs: retain (and the forget class for class-wise mode). Cost: one per-sample gradient pass over D_r for
every class (C backward passes per sample: the slowest approximate method in the papers); no training.
Failure modes: α is scale-sensitive (too small: no forgetting; too large: noise destroys the model);
random forgetting gets only the noise, no targeted update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    build_result,
    clone_model,
    per_sample_grads,
    require,
    stopwatch,
    subsample,
)
from unlearnkit.data import IdDataset
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult

if TYPE_CHECKING:
    from unlearnkit.context import RunContext


@dataclass(frozen=True)
class FisherConfig(MethodConfig):
    """Fisher-forgetting hyper-parameters; defaults from the SSD repository's ``FisherForgetting``."""

    alpha: float = field(default=1e-6, metadata={"help": "α: noise scale, σ² = α·clamp(1/F) (> 0)"})
    var_clamp: float = field(default=1e3, metadata={"help": "upper bound of 1/F for every tensor (> 0)"})
    head_var_clamp: float = field(default=1e2, metadata={"help": "upper bound of 1/F for head tensors (> 0)"})
    head_scale: float = field(default=10.0, metadata={"help": "variance multiplier of the head (> 0)"})
    vector_scale: float = field(default=10.0, metadata={"help": "variance multiplier of 1-D tensors (> 0)"})
    forget_row_var: float = field(
        default=1e-4, metadata={"help": "variance of the zeroed forget-class head row, before head_scale (>= 0)"}
    )
    max_samples: int | None = field(
        default=None, metadata={"help": "retain samples used for the Fisher (None: all, as the code)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("alpha", "var_clamp", "head_var_clamp", "head_scale", "vector_scale"):
            require(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        require(self.forget_row_var >= 0, f"forget_row_var must be >= 0, got {self.forget_row_var}")
        require(self.max_samples is None or self.max_samples >= 1, f"max_samples must be >= 1, got {self.max_samples}")


def fisher_information(model: nn.Module, data: IdDataset) -> dict[str, torch.Tensor]:
    """The true Fisher diagonal Σ_c p(c|x)·(∇ CE(f(x), c))², averaged over ``data`` (the code's ``hessian``)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    total = torch.zeros(sum(p.numel() for p in model.parameters()))
    if len(data):
        with torch.no_grad():
            probs = torch.softmax(model.eval()(data.x), dim=1)
        for c in range(data.num_classes):
            g = per_sample_grads(model, data.with_labels(torch.full_like(data.y, c)))
            total += (probs[:, c : c + 1] * g.pow(2)).sum(dim=0)
        total /= len(data)
    out, start = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        k = int(torch.Size(shape).numel())
        out[name] = total[start : start + k].view(shape)
        start += k
    return out


def _head_names(model: nn.Module, num_classes: int) -> set[str]:
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        ids = {id(p) for p in head.parameters()}
        return {n for n, p in model.named_parameters() if id(p) in ids}
    return {n for n, p in model.named_parameters() if p.ndim and p.shape[0] == num_classes}


@torch.no_grad()
def noise_distribution(
    model: nn.Module, fisher: dict[str, torch.Tensor], cfg: FisherConfig, num_classes: int, forget_class: int | None
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Mean and variance of the scrubbed weights (the code's ``get_mean_var``), per parameter tensor."""
    heads = _head_names(model, num_classes)
    means, variances = {}, {}
    for name, p in model.named_parameters():
        is_head = name in heads
        var = (1.0 / (fisher[name] + 1e-8)).clamp(max=cfg.var_clamp)
        if is_head:
            var = var.clamp(max=cfg.head_var_clamp)
        var = cfg.alpha * var
        if p.ndim > 1:
            var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
        mu = p.detach().clone()
        if is_head and forget_class is not None:
            mu[forget_class] = 0
            var[forget_class] = cfg.forget_row_var
        if is_head:
            var = var * cfg.head_scale
        elif p.ndim == 1:
            var = var * cfg.vector_scale
        means[name], variances[name] = mu, var
    return means, variances


@register_method(
    "fisher",
    task="classification",
    needs=("forget", "retain"),
    paper="Golatkar et al., Eternal Sunshine of the Spotless Net (Fisher forgetting), CVPR 2020 (arXiv 1911.04933)",
)
class FisherForgetting(Unlearner):
    """Sample θ ~ N(θ_o, α·clamp(1/F_{D_r})) with the forget-class head row zeroed."""

    config_cls = FisherConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"alpha": [1e-7, 1e-6, 1e-5, 1e-4]}
    # α spans "no visible noise" to "noise dominates" for small MLPs (the code's 1e-6 is tuned for ResNet-18).
    search_grid: ClassVar[dict[str, list]] = {
        "alpha": [1e-7, 1e-6, 1e-5, 1e-4],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg: FisherConfig = self.config
        counter = StepCounter(cfg.max_steps)
        metadata: dict = {"forget_class": split.forget_class}
        with stopwatch() as clock:
            out = clone_model(model, ctx)
            if counter.step():
                retain = split.retain
                if cfg.max_samples is not None:
                    retain = subsample(retain, cfg.max_samples, ctx.generator(self.name, "subsample"))
                fisher = fisher_information(out, retain)
                num_classes = split.retain.num_classes or split.forget.num_classes
                means, variances = noise_distribution(out, fisher, cfg, num_classes, split.forget_class)
                gen = ctx.generator(self.name, "noise")
                with torch.no_grad():
                    for name, p in out.named_parameters():
                        eps = torch.randn(p.shape, generator=gen, dtype=p.dtype)
                        p.copy_(means[name] + variances[name].sqrt() * eps)
                metadata.update(
                    fisher_samples=len(retain),
                    mean_std={n: float(v.sqrt().mean()) for n, v in variances.items()},
                )
        return build_result(self, out, seconds=clock[0], steps=counter.steps, history=[], metadata=metadata)
