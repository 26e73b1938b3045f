"""D2DGN, Distill to Delete: distil a student from a preserver (retained knowledge) and a destroyer (deleted).

Paper: Sinha, Mandal, Kankanhalli, "Distill to Delete: Unlearning in Graph Networks with Knowledge
Distillation", arXiv 2309.16173. No official code is public; the reading below follows the paper's abstract,
the Bad-Teacher lineage of the same group (arXiv 2205.08096) and the OpenGU port (arXiv 2501.02728).

The graph knowledge is split into *retained* (E_r plus as many negative pairs, and the nodes outside the
deleted elements) and *deleted* (E_d, and the endpoints of E_d / the masked nodes). Two teachers:

- the **preserver** = the original model, run on the E_r graph, gives the targets of retained knowledge;
- the **destroyer** = a randomly initialised model of the same architecture (seeded), run on the same graph,
  gives the targets of deleted knowledge.

Two kinds of knowledge are distilled into the student (a copy of the original, ``student_init="original"``;
``"random"`` re-initialises it as the OpenGU port does):

- response-based soft targets, KL(teacher ‖ student) at temperature ``temperature``: for link prediction the
  Bernoulli [σ(s), 1 − σ(s)] of the edge scores, for node classification the class softmax;
- feature-based node embeddings, MSE on every layer's output (``feature_layers="all"``) or the last.

    Loss_r = KL_r + MSE_r,   Loss_f = KL_f + MSE_f,   Loss = α Loss_r + (1 − α) Loss_f,   α = 0.5

Teacher targets are computed once; each step is one student forward pass over E_r (no deleted edge reaches
any message-passing graph). The unlearned model keeps the original architecture: no extra parameter, no
extra FLOP per forward pass ("zero overhead"). Defaults (the paper's schedule is not public): 150 steps of
Adam at lr 1e-3, the CPU recipe of the graph notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from unlearnkit.approx._common import MethodConfig, StepCounter, build_result, require, stopwatch
from unlearnkit.context import RunContext
from unlearnkit.graph.methods.base import GraphUnlearner, RetainView, editable_copy, forget_nodes, frozen
from unlearnkit.graph.models import GNN, build_gnn
from unlearnkit.graph.tasks import GraphDeletion
from unlearnkit.graph.train import sample_negatives
from unlearnkit.registry import register_method

STUDENT_INITS = ("original", "random")
FEATURE_LAYERS = ("all", "last")


@dataclass(frozen=True)
class D2DGNConfig(MethodConfig):
    """α = 0.5 (paper, OpenGU); T = 1 (Bad-Teacher); 150 steps of Adam 1e-3 (CPU recipe)."""

    epochs: int = field(default=150, metadata={"help": "distillation steps (full batch)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate of the student"})
    alpha: float = field(default=0.5, metadata={"help": "α: weight of the retained loss"})
    temperature: float = field(default=1.0, metadata={"help": "softmax / sigmoid temperature of the KL"})
    student_init: str = field(default="original", metadata={"help": "original | random"})
    feature_layers: str = field(default="all", metadata={"help": "all | last: layers distilled with MSE"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(0 <= self.alpha <= 1, f"alpha must lie in [0, 1], got {self.alpha}")
        require(self.temperature > 0, f"temperature must be > 0, got {self.temperature}")
        require(self.student_init in STUDENT_INITS, f"student_init must be one of {STUDENT_INITS}")
        require(self.feature_layers in FEATURE_LAYERS, f"feature_layers must be one of {FEATURE_LAYERS}")


def bernoulli_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Mean KL(teacher ‖ student) between the Bernoulli distributions σ(s / T) of edge scores."""
    s = torch.stack([student_logits, -student_logits], dim=1) / temperature
    t = torch.stack([teacher_logits, -teacher_logits], dim=1) / temperature
    return F.kl_div(F.logsigmoid(s), F.logsigmoid(t), reduction="batchmean", log_target=True)


def softmax_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Mean KL(teacher ‖ student) between class softmaxes at temperature T."""
    return F.kl_div(
        F.log_softmax(student_logits / temperature, -1),
        F.log_softmax(teacher_logits / temperature, -1),
        reduction="batchmean",
        log_target=True,
    )


@register_method(
    "d2dgn",
    task="graph",
    family="graph",
    needs=("forget", "retain"),
    paper="D2DGN, Distill to Delete (Sinha, Mandal, Kankanhalli, arXiv 2309.16173)",
)
class D2DGN(GraphUnlearner):
    """Distil retained knowledge from the original and deleted knowledge from a random model."""

    config_cls = D2DGNConfig
    search_grid: ClassVar[dict[str, list]] = {"epochs": [150, 300], "lr": [1e-3, 1e-2]}

    def unlearn(self, model: GNN, split: GraphDeletion, *, ctx: RunContext):  # type: ignore[override]
        cfg = self.config
        counter = StepCounter(cfg.max_steps)
        history = []
        with stopwatch() as t:
            view = RetainView.of(split)
            preserver = frozen(model)
            ctx.seed_everything("d2dgn", "destroyer")
            destroyer = frozen(build_gnn(model.spec))
            student = editable_copy(model, ctx)
            if cfg.student_init == "random":
                ctx.seed_everything("d2dgn", "student")
                student.reset_parameters()
            n = split.data.num_nodes
            gone = torch.zeros(n, dtype=torch.bool)
            gone[forget_nodes(split)] = True
            kept = ~gone
            link = split.task == "link"
            with torch.no_grad():
                pres = preserver.encode(view.x, view.index)
                dest = destroyer.encode(view.x, view.index)
            layers = range(len(pres)) if cfg.feature_layers == "all" else [len(pres) - 1]
            if link:
                ctx.seed_everything("d2dgn", "negatives")
                retain_pos = split.data.edge_index[:, split.retain_edges]
                neg = sample_negatives(split.train_index(), n, retain_pos.shape[1])
                retain_pairs = torch.cat([retain_pos, neg], dim=1)
                forget_pairs = split.forget_pairs()
                t_r = preserver.decode(pres[-1], retain_pairs)
                t_f = destroyer.decode(dest[-1], forget_pairs)
            else:
                node_split = split.split
                retain_nodes = node_split.train_mask & kept  # type: ignore[union-attr]
                t_r, t_f = pres[-1][retain_nodes], dest[-1][gone]
            opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
            student.train()
            for epoch in range(cfg.epochs):
                if not counter.step():
                    break
                hs = student.encode(view.x, view.index)
                if link:
                    kl_r = bernoulli_kl(student.decode(hs[-1], retain_pairs), t_r, cfg.temperature)
                    kl_f = bernoulli_kl(student.decode(hs[-1], forget_pairs), t_f, cfg.temperature)
                else:
                    kl_r = softmax_kl(hs[-1][retain_nodes], t_r, cfg.temperature)
                    kl_f = softmax_kl(hs[-1][gone], t_f, cfg.temperature)
                mse_r = sum(F.mse_loss(hs[k][kept], pres[k][kept]) for k in layers)
                mse_f = sum(F.mse_loss(hs[k][gone], dest[k][gone]) for k in layers)
                loss_r, loss_f = kl_r + mse_r, kl_f + mse_f
                loss = cfg.alpha * loss_r + (1 - cfg.alpha) * loss_f
                opt.zero_grad()
                loss.backward()
                opt.step()
                if epoch % 25 == 0 or epoch == cfg.epochs - 1:
                    history.append(
                        {"epoch": epoch, "loss": loss.item(), "loss_r": loss_r.item(), "loss_f": loss_f.item()}
                    )
            student.set_graph(view.index, view.feature_mask)
        meta = {"retained_nodes": int(kept.sum()), "deleted_nodes": int(gone.sum()), "added_params": 0}
        return build_result(self, student, seconds=t[0], steps=counter.steps, history=history, metadata=meta)
