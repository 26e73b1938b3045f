"""Training tasks shared by every exact strategy: one picklable task per shard, free of shared state.

A task carries ids and file paths, not data: it reads its rows from the held files itself
(:func:`unlearnkit.exact.held.read_rows`, every row's tag checked) and sets the run's torch thread count, so it
runs the same in this process, a process pool or a Ray worker.

A *node* is a checkpoint reached by training along a prefix of a shard's slice order. Its tensors are the
parameters it trained (S3T: one LoRA block + the head; SISA/Retrain: every LoRA block + the head). The model
served at depth d of an order is the frozen backbone with the tensors of nodes ``order[:1] … order[:d]``
applied in turn (later nodes override earlier ones), every other LoRA module switched off (B = 0).

The task descriptions import no torch (a deletion that retrains nothing never does); the functions that build,
train or serve modules import it when called.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unlearnkit.exact.held import HeldSpec, PurgedRowError, SliceRef, read_rows
from unlearnkit.models.backbones import Backbone
from unlearnkit.models.lora import (
    LoraSpec,
    attach_lora,
    base_of,
    head_params,
    init_lora,
    load_tensors,
    lora_params,
    snapshot,
    zero_lora,
)
from unlearnkit.runtime.memory import release_free_memory

if TYPE_CHECKING:
    import torch
    from torch import nn

Prefix = tuple[int, ...]
Tensors = dict[str, "torch.Tensor"]


@dataclass
class NodeJob:
    """Train the node at ``prefix`` on the rows of ``slices`` (its cumulative slices, read in id order)."""

    prefix: Prefix
    slices: list[SliceRef]
    layers: list[int]  # model layers whose LoRA this node trains
    fresh: bool  # initialise those LoRA modules from `seed` (else continue from the parent)
    epochs: int
    seed: int


@dataclass
class ShardTask:
    spec: Backbone
    lora: LoraSpec
    backbone: Tensors
    lr: float
    batch_size: int
    weight_decay: float
    ancestors: dict[Prefix, Tensors]  # tensors of existing nodes the jobs build on
    jobs: list[NodeJob] = field(default_factory=list)  # parents before children
    held: HeldSpec | None = None  # how to read and check the held rows
    public_fit: dict[str, Any] = field(default_factory=dict)  # the recorded input scaling, applied after reading
    threads: int | None = 1  # torch threads inside the task (the RunContext's)


class StaleResult(dict):
    """What a task returns when a deletion purged rows it was planned with: the caller plans again."""


@dataclass
class NodeResult:
    tensors: Tensors
    losses: list[float]
    seconds: float


def build_template(spec: Backbone, lora: LoraSpec, backbone: Tensors) -> nn.Module:
    """The frozen backbone wrapped with LoRA on every target module, all switched off."""
    import torch

    model = spec.build()
    model.load_state_dict(backbone)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # LoRA A of layers no node trains: the same in every template (B = 0 anyway)
        wrapped = attach_lora(model, lora)
    zero_lora(lora_params(wrapped, list(range(spec.num_layers))))
    for p in wrapped.parameters():
        p.requires_grad_(False)
    wrapped.eval()
    return wrapped


def apply_chain(model: nn.Module, chain: list[Tensors], head_init: Tensors, num_layers: int) -> None:
    """Switch every LoRA module off, restore the initial head, then apply node tensors in order."""
    import torch

    all_lora = lora_params(model, list(range(num_layers)))
    zero_lora(all_lora)
    named = {**all_lora, **head_params(model)}
    load_tensors(head_params(model), head_init)
    with torch.no_grad():
        for tensors in chain:
            for k, v in tensors.items():
                named[k].copy_(v)


def chain_for(prefix: Prefix, nodes: dict[Prefix, Tensors]) -> list[Tensors]:
    """Tensors of the existing nodes along ``prefix`` (a stage with no new data has no node)."""
    return [nodes[prefix[:d]] for d in range(1, len(prefix) + 1) if prefix[:d] in nodes]


def run_shard_task(task: ShardTask) -> dict[Prefix, NodeResult]:
    """Train every job of one shard; pure function of its arguments and the held files (safe to retry)."""
    import torch

    from unlearnkit.data.public_fit import FeatureTransform
    from unlearnkit.models.train import is_regression_target, train_epochs

    if task.threads is not None and torch.get_num_threads() != task.threads:
        torch.set_num_threads(task.threads)
    transform = FeatureTransform(task.public_fit)
    model = build_template(task.spec, task.lora, task.backbone)
    head_init = {k: v.clone() for k, v in snapshot(head_params(model)).items()}
    nodes: dict[Prefix, Tensors] = dict(task.ancestors)
    out: dict[Prefix, NodeResult] = {}
    for job in task.jobs:
        t0 = time.perf_counter()
        apply_chain(model, chain_for(job.prefix[:-1], nodes), head_init, task.spec.num_layers)
        trainable = lora_params(model, job.layers)
        gen = torch.Generator().manual_seed(job.seed)
        if job.fresh:
            init_lora(trainable, gen)
        params = {**trainable, **head_params(model)}
        for p in params.values():
            p.requires_grad_(True)
        try:
            x, y = _job_data(task, job, transform)
        except PurgedRowError:
            return StaleResult()
        torch.manual_seed(job.seed)  # LoRA dropout draws from the global generator
        losses = train_epochs(
            model,
            list(params.values()),
            x,
            y,
            epochs=job.epochs,
            lr=task.lr,
            batch_size=task.batch_size,
            generator=gen,
            weight_decay=task.weight_decay,
            # regression targets: mean squared error on the one-wide head, whatever the backbone's own loss
            compute_loss=None if is_regression_target(y) else getattr(base_of(model), "task_loss", None),
        )
        for p in params.values():
            p.requires_grad_(False)
        del x, y
        release_free_memory()  # the job's rows and batches, freed: the next job reads a longer prefix on top
        tensors = snapshot(params)
        nodes[job.prefix] = tensors
        out[job.prefix] = NodeResult(tensors, losses, time.perf_counter() - t0)
    return out


def _job_data(task: ShardTask, job: NodeJob, transform: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The job's rows (float32 features after the public-fitted scaling, labels), read from the held files."""
    if task.held is None:
        raise ValueError("a shard task needs the held data's layout")
    x, y, _ = read_rows(task.held, job.slices, transform)
    return x, y


def pretrain_backbone(
    spec: Backbone,
    x: torch.Tensor | None,
    y: torch.Tensor | None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> tuple[Tensors, str]:
    """The frozen weights: pretrained, or trained on the public split (never deletable), or a seeded init.

    Returns the state dict and a one-line description of what the backbone is.
    """
    return spec.initial_state(x, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)


def served_module(template: nn.Module, chain: list[Tensors], head_init: Tensors, num_layers: int) -> nn.Module:
    """A copy of ``template`` serving ``chain`` (read-only; safe to call from many threads).

    Only what a chain changes is copied: the LoRA and head parameters. The module objects are cloned shallowly
    (their attribute dicts, parameter and child containers are new; configuration objects, the frozen backbone's
    parameters and every buffer are shared with the template, which nothing ever writes), so building one costs
    microseconds per submodule instead of a deep copy: m shards of a pretrained model hold one copy of it.
    """
    own = {id(p) for p in lora_params(template, list(range(num_layers))).values()}
    own |= {id(p) for p in head_params(template).values()}
    module = _clone(template, own)
    apply_chain(module, chain, head_init, num_layers)
    return module


def _clone(module: nn.Module, own: set[int]) -> nn.Module:
    """A structural copy of ``module``: new parameter tensors for ``own`` (by id), everything else shared."""
    from torch import nn

    new = module.__class__.__new__(module.__class__)
    new.__dict__ = dict(module.__dict__)
    for name, value in module.__dict__.items():  # hooks registered on a served module stay its own
        if name.startswith("_") and "hook" in name and isinstance(value, dict):
            new.__dict__[name] = value.copy()
    params = {}
    for name, p in module._parameters.items():
        if p is not None and id(p) in own:
            params[name] = nn.Parameter(p.detach().clone(), requires_grad=False)
        else:
            params[name] = p
    new._parameters = params
    new._buffers = dict(module._buffers)
    new._modules = {name: (None if child is None else _clone(child, own)) for name, child in module._modules.items()}
    return new


__all__ = [
    "NodeJob",
    "NodeResult",
    "ShardTask",
    "StaleResult",
    "build_template",
    "chain_for",
    "pretrain_backbone",
    "run_shard_task",
    "served_module",
]
