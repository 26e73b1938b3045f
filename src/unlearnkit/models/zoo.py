"""Small models for CPU-scale unlearning: a residual MLP and a transformer over feature tokens.

Both expose ``lora_targets()``: for each layer, bottom to top, the exact names of the modules that get a
LoRA adapter. Exact unlearning trains LoRA blocks layer by layer, so the layer a module belongs to must be
known by exact index (a substring test would make ``layers.1`` match ``layers.10``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from unlearnkit.models.spec import ARCHS, ModelSpec

__all__ = ["ARCHS", "FeatureTransformer", "ModelSpec", "ResMLP", "build_model"]


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + torch.relu(self.fc(h))


class ResMLP(nn.Module):
    """``x → relu(embed) → [h + relu(fc(h))] × depth → head``."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.embed = nn.Linear(spec.in_features, spec.width)
        self.blocks = nn.ModuleList(ResBlock(spec.width) for _ in range(spec.depth))
        self.head = nn.Linear(spec.width, spec.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.embed(x))
        for b in self.blocks:
            h = b(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def lora_targets(self) -> list[list[str]]:
        return [[f"blocks.{i}.fc"] for i in range(self.spec.depth)]


class Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.k = nn.Linear(width, width)
        self.v = nn.Linear(width, width)
        self.o = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, d = h.shape
        split = lambda z: z.view(b, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        return self.o((att @ v).transpose(1, 2).reshape(b, t, d))


class TransformerLayer(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, 2 * width)
        self.down = nn.Linear(2 * width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.ln1(h))
        return h + self.down(torch.relu(self.up(self.ln2(h))))


class FeatureTransformer(nn.Module):
    """A pre-norm transformer over ``tokens`` chunks of the feature vector, mean-pooled into a head.

    LoRA targets ``attn.q`` and ``attn.v`` of every layer, as the S3T ViT/RoBERTa scripts do.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.tok = math.ceil(spec.in_features / spec.tokens)
        self.pad = self.tok * spec.tokens - spec.in_features
        self.embed = nn.Linear(self.tok, spec.width)
        self.pos = nn.Parameter(torch.zeros(spec.tokens, spec.width))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList(TransformerLayer(spec.width, spec.heads) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(spec.width)
        self.head = nn.Linear(spec.width, spec.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = torch.nn.functional.pad(x, (0, self.pad))
        h = self.embed(x.view(x.shape[0], self.spec.tokens, self.tok)) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.norm(h).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def lora_targets(self) -> list[list[str]]:
        return [[f"layers.{i}.attn.q", f"layers.{i}.attn.v"] for i in range(self.spec.depth)]


def build_model(spec: ModelSpec, seed: int | None = None) -> nn.Module:
    """A fresh model; with ``seed`` its initial weights depend on nothing else."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_model(spec)
    return ResMLP(spec) if spec.arch == "resmlp" else FeatureTransformer(spec)
