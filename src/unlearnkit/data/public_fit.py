"""What a model fits besides its checkpoints: only on the public split or from declarations, and recorded.

The one rule of exact unlearning: nothing derived from deletable rows may shape a served model except
through lineage-tracked checkpoints. Label sets, input scaling, tokenizers and vocabularies are such
things. Each is computed here by a registered *public fit*: a function that receives the never-deletable
public split and declared options — never the deletable rows — and returns a JSON-serialisable state that
the model records (``strategy.json`` → ``public_fit``). A fit with a ``module`` is a feature transform used
identically at training, at prediction and in exported models.

Adding one (a tokenizer, a vocabulary, an image normaliser) is a :func:`register_public_fit` call; the
exactness suite (``tests/exactness/test_public_fit.py``) then checks, for every registered fit, that the
recorded state does not move when deletable rows are changed, removed or given unseen labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unlearnkit.data.dataset import IdDataset
from unlearnkit.errors import ConfigError

State = dict[str, Any]
FitFn = Callable[[IdDataset | None, Mapping[str, Any]], State]
ModuleFn = Callable[[State], nn.Module]


@dataclass(frozen=True)
class PublicFit:
    """A registered fit: ``fit(public, options) -> state``; optional feature transform ``module(state)``.

    The transform is an ``nn.Module`` so that an exported model (ONNX, TorchScript) carries it too.
    """

    name: str
    fit: FitFn
    module: ModuleFn | None = None


PUBLIC_FITS: dict[str, PublicFit] = {}


def register_public_fit(name: str, *, module: ModuleFn | None = None) -> Callable[[FitFn], FitFn]:
    """Decorator: register ``fit(public: IdDataset | None, options: Mapping) -> JSON state`` under ``name``;
    ``module(state)`` builds the feature transform it implies (if any)."""

    def deco(fn: FitFn) -> FitFn:
        if name in PUBLIC_FITS and PUBLIC_FITS[name].fit is not fn:
            raise ConfigError(f"public fit {name!r} is registered twice")
        PUBLIC_FITS[name] = PublicFit(name, fn, module)
        return fn

    return deco


def fit_public(public: IdDataset | None, options: Mapping[str, Any]) -> dict[str, State]:
    """Run every registered fit; the result is what the model records."""
    return {name: info.fit(public, options) for name, info in PUBLIC_FITS.items()}


class FeatureTransform:
    """The recorded fits that transform features, applied in registration order (training and prediction)."""

    def __init__(self, states: Mapping[str, State]) -> None:
        steps = [info.module(states[name]) for name, info in PUBLIC_FITS.items() if info.module and name in states]
        self.module: nn.Module = nn.Sequential(*steps).eval() if steps else nn.Identity()
        self.module.requires_grad_(False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(x)


# -- the label set --------------------------------------------------------------------------------------
NO_LABEL_SET = (
    "no label set: it would be max(label)+1 of the deletable rows, which forgetting the only sample of the "
    "top class would change; declare it (num_classes=N / --classes N, or label names) or give a public split"
)


@register_public_fit("label_set")
def fit_label_set(public: IdDataset | None, options: Mapping[str, Any]) -> State:
    """Declared (``num_classes`` / ``label_names``, or a loader's fixed class count), else the public split's."""
    names = options.get("label_names")
    declared = options.get("num_classes")
    if names is not None:
        names = [str(n) for n in names]
        if len(set(names)) != len(names) or not names:
            raise ConfigError("label names must be distinct and non-empty")
        if declared is not None and int(declared) != len(names):
            raise ConfigError(f"{len(names)} label names for {declared} classes")
        return {"num_classes": len(names), "source": "declared", "names": names}
    if declared is not None:
        if isinstance(declared, bool) or not isinstance(declared, int) or declared < 1:
            raise ConfigError(f"num_classes must be a positive integer, got {declared!r}")
        return {"num_classes": int(declared), "source": "declared", "names": None}
    if public is not None and len(public):
        return {"num_classes": int(public.num_classes), "source": "public", "names": None}
    raise ConfigError(NO_LABEL_SET)


# -- input scaling ----------------------------------------------------------------------------------------
PREPROCESS = ("standardize", "none")
NO_PUBLIC_SCALING = (
    "no public split, so inputs are not standardised: statistics of the deletable rows would leak them into "
    "every model (give a public split, or scale the features with fixed constants before training)"
)


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed float32 buffers."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _scaling_module(state: State) -> nn.Module:
    return Standardize(state["mean"], state["std"]) if state.get("kind") == "standardize" else nn.Identity()


@register_public_fit("scaling", module=_scaling_module)
def fit_scaling(public: IdDataset | None, options: Mapping[str, Any]) -> State:
    """Per-feature standardisation with the public split's mean and std (a constant feature keeps std 1)."""
    mode = options.get("preprocess", "standardize")
    if mode not in PREPROCESS:
        raise ConfigError(f"preprocess must be one of {', '.join(PREPROCESS)}, got {mode!r}")
    if mode == "none":
        return {"kind": "identity", "why": "preprocess='none' (inputs used as given)"}
    if not options.get("numeric_inputs", True):
        return {"kind": "identity", "why": "inputs are encoded by the backbone's own pretrained tokenizer/processor"}
    if public is None or len(public) < 2:
        return {"kind": "identity", "why": NO_PUBLIC_SCALING}
    x = public.x.double()
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    return {
        "kind": "standardize",
        "mean": mean.float().tolist(),
        "std": std.float().tolist(),
        "fitted_on": f"public split ({len(public)} samples)",
    }


__all__ = [
    "NO_LABEL_SET",
    "NO_PUBLIC_SCALING",
    "PREPROCESS",
    "PUBLIC_FITS",
    "FeatureTransform",
    "PublicFit",
    "Standardize",
    "fit_label_set",
    "fit_public",
    "fit_scaling",
    "register_public_fit",
]
