"""LAF — Label-Agnostic Forgetting: unlearn at the representation level without reading any label.

Paper: Shen, Zhang, Zhao, Bialkowski, Chen, Xu, "Label-Agnostic Forgetting: A Supervision-Free Unlearning
in Deep Models", ICLR 2024, arXiv 2404.00506 (official code ``ShaofeiShen768/LAF``: ``VUnlearning.py``,
``Train.py``, ``hyperparameter.md``).

The model is split into the extractor g = ``model.features`` and the head (``model.head``).

1. **Representation distributions (paper §4.1).** VAE_s is fitted to the embeddings g_o(x) of all training
   data (D_r ∪ D_f: the unlabelled training set approximates D_r's distribution), VAE_u to those of D_f.
   MLP VAEs (d→128→32→latent, decoder mirrored, sigmoid output), loss = Σ‖x̂ − x‖²/B + 0.025·KL, Adam 1e-3,
   10 epochs; frozen afterwards.
2. **Extractor unlearning, UE (Eq. 6).** With e_V(x) = ‖V(g(x)) − g(x)‖², each (retain, forget) batch pair
   takes an Adam(lr_ue) step on Σ_{B_r} exp(e_s/(e_s+1)) − Σ_{B_f} exp(e_u/(e_u+1)): retain embeddings stay
   on the manifold VAE_s learned, forget embeddings leave the one VAE_u learned.
3. **Representation alignment, RA (Eq. 7)**, right after each UE step, Adam(lr_ra): with
   c(x) = 1 − cos(g(x), g_o(x)) against the frozen original,
   Σ_{x∈B_r} log[exp(c(x)) / Σ_{x′∈B_f} exp(c(x′)/τ)] — retain embeddings keep their original direction,
   forget embeddings move away. UE and RA alternate per batch; the loaders are zipped, so an epoch has as
   many steps as D_f has batches (the official behaviour, notes §3.7).
4. **LAF+R (optional, ``repair=True``).** Supervised repair of the head only: CE on labelled retain batches
   (as many as D_f has batches per epoch). This is the only step that reads labels.

Without ``repair`` no label of D_f or D_r is ever read: the result is a function of the features alone
(``tests/approx/test_laf.py`` checks it bitwise with garbage labels).

Needs: forget and retain (unlabelled). Cost: two small VAE fits plus ``epochs`` × |D_f|/B UE+RA steps.

Deviation (a reference-code pitfall we do not copy, notes §3.7): the official decoder ends in a sigmoid
while the embeddings are unbounded. By default (``embedding_norm="minmax"``) every embedding passes through a
fixed per-dimension min–max map, computed from θ_o's embeddings of the training data, before it meets a
VAE, so the sigmoid can reconstruct it; ``"none"`` reproduces the official behaviour. The VAE's sampling
noise comes from the run's generator.

Known failure modes: the UE term saturates once e ≫ 1 (exp(e/(e+1)) → e), so forgetting stalls at CPU
scale with the CNN learning rates (5e-5 / 1e-4); without repair the head still maps moved embeddings to
*some* class, so forget accuracy falls towards Retrain's rather than to 0; RA degrades a little.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from unlearnkit.approx._common import (
    MethodConfig,
    StepCounter,
    batches,
    build_result,
    clone_model,
    frozen_copy,
    require,
    stopwatch,
)
from unlearnkit.context import RunContext
from unlearnkit.data import concat
from unlearnkit.errors import ConfigError
from unlearnkit.registry import register_method
from unlearnkit.types import ForgetSplit, Unlearner, UnlearnResult


@dataclass(frozen=True)
class LafConfig(MethodConfig):
    """``hyperparameter.md`` defaults for the CNN (MNIST/Fashion) class-removal task."""

    epochs: int = field(default=20, metadata={"help": "unlearning epochs (UNLEARNING_EPOCH)"})
    lr_ue: float = field(default=5e-5, metadata={"help": "Adam lr of the extractor-unlearning step (UNLEARNING_LR_UE)"})
    lr_ra: float = field(default=1e-4, metadata={"help": "Adam lr of the alignment step (UNLEARNING_LR_RA)"})
    temperature: float = field(default=20.0, metadata={"help": "τ of the alignment loss (TEMP; 5 for random)"})
    batch_size: int = field(default=32, metadata={"help": "batch size of both zipped unlearning loaders"})
    vae_batch_size: int = field(default=32, metadata={"help": "batch size of the VAE fits"})
    latent_dim: int = field(default=8, metadata={"help": "VAE latent size (LATENT_DIMS: 8 CNN, 16 ResNet)"})
    vae_hidden: tuple[int, ...] = field(default=(128, 32), metadata={"help": "VAE encoder hidden widths"})
    vae_epochs: int = field(default=10, metadata={"help": "epochs of each VAE fit"})
    vae_lr: float = field(default=1e-3, metadata={"help": "Adam lr of the VAE fits"})
    vae_kl_weight: float = field(default=0.025, metadata={"help": "weight of the VAE's KL term"})
    embedding_norm: str = field(default="minmax", metadata={"help": "minmax: fixed [0,1] map before the VAEs | none"})
    repair: bool = field(default=False, metadata={"help": "LAF+R: fine-tune the head on labelled retain data"})
    repair_epochs: int = field(default=5, metadata={"help": "LAF+R epochs (zipped with D_f's batches)"})
    repair_lr: float = field(default=1e-3, metadata={"help": "LAF+R Adam lr (head only)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("epochs", "vae_epochs", "repair_epochs"):
            require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr_ue", "lr_ra", "vae_lr", "repair_lr", "temperature"):
            require(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        require(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        require(self.vae_batch_size >= 1, f"vae_batch_size must be >= 1, got {self.vae_batch_size}")
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(len(self.vae_hidden) >= 1 and all(h >= 1 for h in self.vae_hidden), f"bad vae_hidden {self.vae_hidden}")
        require(self.vae_kl_weight >= 0, f"vae_kl_weight must be >= 0, got {self.vae_kl_weight}")
        require(
            self.embedding_norm in ("minmax", "none"), f"embedding_norm must be minmax or none: {self.embedding_norm!r}"
        )


class EmbeddingVAE(nn.Module):
    """LAF's MLP VAE over embeddings; sampling noise is drawn from an explicit generator."""

    def __init__(self, dim: int, hidden: tuple[int, ...], latent: int) -> None:
        super().__init__()
        widths = (dim, *hidden)
        self.encoder = nn.Sequential(*[m for a, b in itertools.pairwise(widths) for m in (nn.Linear(a, b), nn.ReLU())])
        self.mu = nn.Linear(widths[-1], latent)
        self.log_var = nn.Linear(widths[-1], latent)
        back = (latent, *reversed(hidden))
        layers: list[nn.Module] = [m for a, b in itertools.pairwise(back) for m in (nn.Linear(a, b), nn.ReLU())]
        self.decoder = nn.Sequential(*layers, nn.Linear(back[-1], dim), nn.Sigmoid())

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        mu, sigma = self.mu(h), torch.exp(0.5 * self.log_var(h))
        eps = torch.randn(sigma.shape, generator=generator).to(sigma.device)
        return self.decoder(mu + sigma * eps), mu, sigma


def _vae_loss(out: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, kl_w: float) -> torch.Tensor:
    rec = F.mse_loss(out, x, reduction="sum") / x.shape[0]
    kld = -0.5 * torch.sum(torch.log(sigma.pow(2) + 1e-8) + 1 - mu.pow(2) - sigma.pow(2)) / x.shape[0]
    return rec + kl_w * kld


def _recon_error(vae: EmbeddingVAE, e: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """LAF's ``extractor_loss_functionnmse``: Σ_x exp(e/(e+1)) with e the summed squared reconstruction error."""
    out, _, _ = vae(e, gen)
    err = (out - e).pow(2).sum(dim=1)
    return torch.exp(err / (err + 1)).sum()


def _alignment(s_e: torch.Tensor, s_t: torch.Tensor, u_e: torch.Tensor, u_t: torch.Tensor, tau: float) -> torch.Tensor:
    """LAF's ``extractor_loss_functioncosine`` (CosineEmbeddingLoss with target 1 is 1 − cos)."""
    c_r = 1 - F.cosine_similarity(s_e, s_t, dim=1)
    c_f = 1 - F.cosine_similarity(u_e, u_t, dim=1)
    return (c_r - torch.logsumexp(c_f / tau, dim=0)).sum()


@register_method(
    "laf",
    task="classification",
    needs=("forget", "retain"),
    paper="LAF (Shen et al., ICLR 2024, arXiv 2404.00506)",
)
class Laf(Unlearner):
    """VAE-guided extractor unlearning alternated with contrastive alignment; labels unused unless repair."""

    config_cls = LafConfig
    #: strength knobs for calibration (unlearnkit.eval.calibration): values from weak to strong.
    strength: ClassVar[dict[str, list]] = {"lr_ue": [5e-5, 1e-3, 2e-3]}
    # CPU scale: a digits forget set is 1–4 batches of 32, so the zipped loop takes 20–80 steps in total and
    # VAE_u gets 10–40 fitting steps: nothing moves at the CNN lrs. Batches of 8, lr 1e-3–2e-3, τ = 5 and a
    # longer VAE fit forgot the class on 300 and 1,200 digits (RA −2 to −8 points; LAF+R recovers part).
    search_grid: ClassVar[dict[str, list]] = {
        "lr_ue": [1e-3, 2e-3],
        "lr_ra": [2e-3],
        "batch_size": [8],
        "vae_epochs": [10, 40],
        "temperature": [5.0],
    }

    def unlearn(self, model: nn.Module, split: ForgetSplit, *, ctx: RunContext) -> UnlearnResult:
        cfg = self.config
        features = getattr(model, "features", None)
        head = getattr(model, "head", None)
        if not callable(features) or not isinstance(head, nn.Module):
            raise ConfigError("laf needs a model with .features(x) (the extractor) and .head (the classifier)")
        if len(split.forget) == 0:
            raise ConfigError("laf needs a non-empty forget set")
        counter = StepCounter(cfg.max_steps)
        history: list[dict] = []
        with stopwatch() as t:
            teacher = frozen_copy(model, ctx)
            out = clone_model(model, ctx)
            everything = concat([split.retain, split.forget]) if len(split.retain) else split.forget
            with torch.no_grad():
                emb_all = teacher.features(everything.x)
                emb_forget = teacher.features(split.forget.x)
            if cfg.embedding_norm == "minmax":
                lo, hi = emb_all.min(dim=0).values, emb_all.max(dim=0).values
                scale = 1.0 / (hi - lo).clamp_min(1e-6)
            else:
                lo, scale = torch.zeros(emb_all.shape[1]), torch.ones(emb_all.shape[1])

            def norm(e: torch.Tensor) -> torch.Tensor:
                return (e - lo) * scale

            noise = ctx.generator("laf", "vae-noise")
            vaes = []
            for tag, emb in (("s", emb_all), ("u", emb_forget)):
                vae, vae_hist = self._fit_vae(norm(emb), ctx, tag, noise)
                history.append({"stage": f"vae_{tag}", "loss": vae_hist})
                vaes.append(vae)
            vae_s, vae_u = vaes

            head_ids = {id(p) for p in out.head.parameters()}
            backbone = [p for p in out.parameters() if id(p) not in head_ids]
            opt_ue = torch.optim.Adam(backbone, lr=cfg.lr_ue)
            opt_ra = torch.optim.Adam(backbone, lr=cfg.lr_ra)
            gen_f, gen_r = ctx.generator("laf", "forget"), ctx.generator("laf", "retain")
            out.train()
            for epoch in ctx.track(range(cfg.epochs), "laf"):
                if counter.exhausted:
                    break
                ue_sum = ra_sum = 0.0
                count = 0
                pairs = zip(
                    batches(split.forget, cfg.batch_size, gen_f),
                    batches(split.retain, cfg.batch_size, gen_r),
                    strict=False,  # zipped loaders: as many steps as the shorter side has batches
                )
                for (xf, _, _), (xr, _, _) in pairs:  # labels are never looked at
                    if not counter.step():
                        break
                    ue = _recon_error(vae_s, norm(out.features(xr)), noise) - _recon_error(
                        vae_u, norm(out.features(xf)), noise
                    )
                    opt_ue.zero_grad(set_to_none=True)
                    ue.backward()
                    opt_ue.step()
                    if not counter.step():
                        break
                    with torch.no_grad():
                        tr, tf = teacher.features(xr), teacher.features(xf)
                    ra = _alignment(out.features(xr), tr, out.features(xf), tf, cfg.temperature)
                    opt_ra.zero_grad(set_to_none=True)
                    ra.backward()
                    opt_ra.step()
                    ue_sum, ra_sum, count = ue_sum + float(ue.detach()), ra_sum + float(ra.detach()), count + 1
                if count:
                    history.append({"stage": "unlearn", "epoch": epoch, "ue": ue_sum / count, "ra": ra_sum / count})
            if cfg.repair:
                self._repair(out, split, cfg, ctx, counter, history)
            out.eval()
        return build_result(
            self,
            out,
            seconds=t[0],
            steps=counter.steps,
            history=history,
            metadata={"labels_used": bool(cfg.repair), "embedding_dim": int(emb_all.shape[1])},
        )

    def _fit_vae(
        self, emb: torch.Tensor, ctx: RunContext, tag: str, noise: torch.Generator
    ) -> tuple[EmbeddingVAE, list[float]]:
        """Fit one VAE to fixed embeddings (frozen on return); its steps are not unlearning updates."""
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            ctx.seed_everything("laf", "vae-init", tag)
            vae = EmbeddingVAE(emb.shape[1], tuple(cfg.vae_hidden), cfg.latent_dim).to(emb.device)
        opt = torch.optim.Adam(vae.parameters(), lr=cfg.vae_lr)
        gen = ctx.generator("laf", "vae-order", tag)
        losses = []
        for _ in range(cfg.vae_epochs):
            total, count = 0.0, 0
            for start_perm in _chunks(torch.randperm(len(emb), generator=gen), cfg.vae_batch_size):
                e = emb[start_perm]
                rec, mu, sigma = vae(e, noise)
                loss = _vae_loss(rec, e, mu, sigma, cfg.vae_kl_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, count = total + float(loss.detach()), count + 1
            losses.append(total / max(count, 1))
        vae.eval()
        for p in vae.parameters():
            p.requires_grad_(False)
        return vae, losses

    @staticmethod
    def _repair(
        out: nn.Module, split: ForgetSplit, cfg: LafConfig, ctx: RunContext, counter: StepCounter, history: list[dict]
    ) -> None:
        """LAF+R: CE on labelled retain batches, head parameters only (zipped with D_f's batch count)."""
        opt = torch.optim.Adam(out.head.parameters(), lr=cfg.repair_lr)
        gen_f, gen_r = ctx.generator("laf", "repair-forget"), ctx.generator("laf", "repair-retain")
        for epoch in range(cfg.repair_epochs):
            if counter.exhausted:
                break
            total, count = 0.0, 0
            for _, (xr, yr, _) in zip(
                batches(split.forget, cfg.batch_size, gen_f), batches(split.retain, cfg.batch_size, gen_r), strict=False
            ):
                if not counter.step():
                    break
                with torch.no_grad():
                    h = out.features(xr)  # the extractor is fixed during repair
                loss = F.cross_entropy(out.head(h), yr)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total, count = total + float(loss.detach()), count + 1
            if count:
                history.append({"stage": "repair", "epoch": epoch, "loss": total / count})


def _chunks(order: torch.Tensor, size: int) -> list[torch.Tensor]:
    return [order[i : i + size] for i in range(0, len(order), size)]
