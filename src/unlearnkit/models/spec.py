"""The built-in architectures' description (no torch): what a model directory records to rebuild one."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from unlearnkit.errors import ConfigError

ARCHS = ("resmlp", "transformer")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and size; everything needed to rebuild the model from scratch.

    Args:
        arch: ``resmlp`` or ``transformer``.
        in_features: input width.
        num_classes: output width (1 for regression).
        width: hidden width (the transformer's model dimension).
        depth: number of residual blocks / transformer layers.
        tokens: transformer only: the features are cut into this many tokens.
        heads: transformer only: attention heads.
    """

    arch: str = "resmlp"
    in_features: int = 64
    num_classes: int = 10
    width: int = 64
    depth: int = 4
    tokens: int = 8
    heads: int = 2

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown model arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.depth < 1 or self.width < 1 or self.in_features < 1 or self.num_classes < 1:
            raise ConfigError(f"model sizes must be positive: {self}")
        if self.arch == "transformer" and self.width % self.heads:
            raise ConfigError(f"width {self.width} is not divisible by heads {self.heads}")

    def to_dict(self) -> dict:
        return asdict(self)
