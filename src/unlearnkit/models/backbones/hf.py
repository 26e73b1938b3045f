"""Hugging Face ``transformers`` models as backbones, loaded offline with ``from_pretrained``.

Supported: encoder classifiers (BERT, RoBERTa, DistilBERT, … via ``AutoModelForSequenceClassification``),
image classifiers (ViT via ``AutoModelForImageClassification``) and decoder LMs (GPT-2, Llama-family) for
sequence classification or for generation (``task="causal-lm"``, ``AutoModelForCausalLM``: no head, the
loss is next-token cross-entropy). The pretrained weights are the never-deletable backbone; the tokenizer is
the pretrained one. LoRA goes on chosen transformer layers by exact index (``layers``) and on exact module
names inside each (``targets``; defaults follow the S3T code: ``query``/``value`` for encoders and ViT, all
seven projections for Llama-family models).

Encoded text rows are int64: the tokenizer's ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when
the tokenizer makes them), each padded to ``max_length``, side by side. Image rows are float pixels
``C·H·W`` already resized and normalised by :mod:`unlearnkit.data.images`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from unlearnkit.errors import ConfigError, DataError
from unlearnkit.models.backbones.base import Backbone, HeadView, Tensors, check_targets

ASSETS_DIR = "backbone"
HINT = "Hugging Face backbones need transformers: pip install 'unlearnkit[hf]'"
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# tried in order; the first set whose every name exists in layer 0 is used
DEFAULT_TARGETS: tuple[tuple[str, ...], ...] = (
    ("query", "value"),
    ("q_proj", "v_proj"),
    ("q_lin", "v_lin"),
    ("c_attn",),
    ("query_key_value",),
)
LLAMA_FAMILY = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo")
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError(HINT) from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _layer_list(model: nn.Module, num_layers: int) -> tuple[str, nn.ModuleList]:
    """The ``nn.ModuleList`` of transformer layers (the shortest-named list of ``num_layers`` modules)."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == num_layers]
    if not found:
        raise ConfigError(f"could not find the {num_layers} transformer layers of {type(model).__name__}")
    return min(found, key=lambda nm: (nm[0].count("."), nm[0]))


class HFModule(HeadView, nn.Module):
    """A ``transformers`` model behind the backbone contract (``forward(x) -> logits``, exact LoRA targets)."""

    def __init__(self, model: nn.Module, backbone: HFBackbone) -> None:
        super().__init__()
        self.model = model
        self.modality = backbone.modality
        self.task = backbone.task
        self.pooling = backbone.pooling
        self.input_names = tuple(backbone.input_names)
        self.max_length = backbone.max_length
        self.image_shape = tuple(backbone.image_shape or ())
        if self.task == "classification" and self.pooling == "mean":
            self.pool_head = nn.Linear(model.config.hidden_size, backbone.num_classes)
            self.head_names = ("pool_head",)
        elif self.task == "classification":
            prefix = model.base_model_prefix
            self.head_names = tuple(
                f"model.{n}" for n, c in model.named_children() if n != prefix and any(True for _ in c.parameters())
            )
        else:
            self.head_names = ()  # causal LM: lm_head is tied to the embeddings and stays frozen (as S3T)
        self._targets = backbone.targets_for(model, prefix="model.")

    def lora_targets(self) -> list[list[str]]:
        return [list(t) for t in self._targets]

    def unpack(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        t = self.max_length
        return {name: x[:, k * t : (k + 1) * t].long() for k, name in enumerate(self.input_names)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.modality == "image":
            return self.model(pixel_values=x.reshape(len(x), *self.image_shape)).logits
        kwargs = self.unpack(x)
        if self.pooling == "mean" and self.task == "classification":
            h = self.model(**kwargs).last_hidden_state
            m = kwargs["attention_mask"].unsqueeze(-1).to(h.dtype)
            return self.pool_head((h * m).sum(1) / m.sum(1).clamp(min=1.0))
        return self.model(**kwargs).logits

    def task_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy on the labels; for a causal LM, next-token cross-entropy over non-padding tokens."""
        if self.task != "causal-lm":
            return nn.functional.cross_entropy(self(x), y)
        kwargs = self.unpack(x)
        logits = self.model(**kwargs).logits[:, :-1]
        target = kwargs["input_ids"][:, 1:]
        mask = kwargs["attention_mask"][:, 1:].bool()
        return nn.functional.cross_entropy(logits[mask], target[mask])

    @torch.no_grad()
    def next_token_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the token after each (unpadded) row of ``input_ids``, shape (n, vocab)."""
        return self.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits[:, -1]


class HFBackbone(Backbone):
    """A Hugging Face model from a local directory (or a name already in the local cache), offline.

    Args:
        source: directory written by ``save_pretrained`` (or a cached hub name); ``hf:`` prefix allowed.
        task: ``classification`` (sequence or image) or ``causal-lm`` (generation).
        layers: transformer layer indices (0 = bottom) that get LoRA; default all.
        targets: module names inside each layer that get LoRA (exact, dotted from the layer).
        max_length: tokens per text (padded/truncated).
        pooling: ``model`` (the architecture's own head, e.g. BERT's pooler + classifier) or ``mean``
            (mean of the last hidden states into a new linear head; for sentence encoders such as MiniLM).
    """

    kind: ClassVar[str] = "hf"

    def __init__(
        self,
        source: str | Path,
        *,
        task: str = "classification",
        layers: Sequence[int] | None = None,
        targets: Sequence[str] | None = None,
        max_length: int = 64,
        pooling: str = "model",
        num_classes: int = 0,
        assets: str | Path | None = None,
    ) -> None:
        src = str(source)
        self.source = src[3:] if src.startswith("hf:") else src
        if task not in ("classification", "causal-lm"):
            raise ConfigError(f"task must be classification or causal-lm, got {task!r}")
        if pooling not in ("model", "mean"):
            raise ConfigError(f"pooling must be model or mean, got {pooling!r}")
        if max_length < 2:
            raise ConfigError(f"max_length must be at least 2, got {max_length}")
        self.task = task
        self.layers = None if layers is None else [int(i) for i in layers]
        self.targets = None if targets is None else [str(t) for t in targets]
        self.max_length = int(max_length)
        self.pooling = pooling
        self.num_classes = int(num_classes)
        self.assets = None if assets is None else str(assets)
        cfg = self.hf_config()
        self.model_type = str(getattr(cfg, "model_type", ""))
        self.modality = "image" if hasattr(cfg, "image_size") and hasattr(cfg, "num_channels") else "text"
        if self.modality == "image":
            if task == "causal-lm":
                raise ConfigError(f"{self.source}: an image model cannot be a causal LM")
            size = cfg.image_size if isinstance(cfg.image_size, int) else cfg.image_size[0]
            self.image_shape: list[int] | None = [int(cfg.num_channels), int(size), int(size)]
            self.input_names: list[str] = ["pixel_values"]
            self.in_features = int(cfg.num_channels) * int(size) * int(size)
        else:
            self.image_shape = None
            names = list(getattr(self.tokenizer, "model_input_names", TEXT_INPUTS))
            self.input_names = [n for n in TEXT_INPUTS if n in names or n != "token_type_ids"]
            self.in_features = len(self.input_names) * self.max_length
        self._names: list[list[str]] | None = None

    # -- loading ---------------------------------------------------------------------------------------
    @property
    def _where(self) -> str:
        return self.assets or self.source

    def _auto(self) -> Any:
        tf = _transformers()
        if self.task == "causal-lm":
            return tf.AutoModelForCausalLM
        if self.pooling == "mean":
            return tf.AutoModel
        return tf.AutoModelForImageClassification if self.modality == "image" else tf.AutoModelForSequenceClassification

    def hf_config(self) -> Any:
        tf = _transformers()
        try:
            cfg = tf.AutoConfig.from_pretrained(self._where, local_files_only=True)
        except OSError as exc:
            raise DataError(
                f"{self._where}: no local Hugging Face model there ({str(exc).splitlines()[0]}); "
                "pass a directory written by save_pretrained (models are never downloaded at run time)"
            ) from None
        if self.task == "classification" and self.num_classes:
            cfg.num_labels = self.num_classes
            cfg.id2label = {i: f"LABEL_{i}" for i in range(self.num_classes)}
            cfg.label2id = {v: k for k, v in cfg.id2label.items()}
        if self.modality_hint(cfg) == "text" and getattr(cfg, "pad_token_id", None) is None:
            tok = self.tokenizer
            cfg.pad_token_id = tok.pad_token_id
        return cfg

    @staticmethod
    def modality_hint(cfg: Any) -> str:
        return "image" if hasattr(cfg, "image_size") and hasattr(cfg, "num_channels") else "text"

    @property
    def tokenizer(self) -> Any:
        tok = getattr(self, "_tokenizer", None)
        if tok is None:
            tf = _transformers()
            try:
                tok = tf.AutoTokenizer.from_pretrained(self._where, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise DataError(f"{self._where}: no tokenizer found ({str(exc).splitlines()[0]})") from None
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token if tok.eos_token is not None else tok.unk_token
            tok.padding_side = "right"
            self._tokenizer = tok
        return tok

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_tokenizer", None)  # rebuilt on demand; shard workers never need it
        return state

    # -- the backbone contract ---------------------------------------------------------------------------
    def bind(self, num_classes: int, in_features: int) -> HFBackbone:
        if in_features != self.in_features:
            raise DataError(
                f"encoded inputs are {in_features} wide but {self.source} expects {self.in_features} "
                "(encode the data with this backbone: unlearnkit.data.text / unlearnkit.data.images)"
            )
        if self.task == "causal-lm":
            return self
        out = HFBackbone(
            self.source,
            task=self.task,
            layers=self.layers,
            targets=self.targets,
            max_length=self.max_length,
            pooling=self.pooling,
            num_classes=num_classes,
            assets=self.assets,
        )
        if hasattr(self, "_tokenizer"):
            out._tokenizer = self._tokenizer
        return out

    def targets_for(self, model: nn.Module, prefix: str = "") -> list[list[str]]:
        """Exact LoRA target names per chosen layer, bottom to top."""
        n = int(getattr(model.config, "num_hidden_layers", 0))
        list_name, layer_list = _layer_list(model, n)
        chosen = sorted(set(self.layers)) if self.layers is not None else list(range(n))
        bad = [i for i in chosen if not 0 <= i < n]
        if bad or (self.layers is not None and len(chosen) != len(self.layers)):
            raise ConfigError(f"LoRA layers {self.layers} must be distinct indices in [0, {n}) for {self.source}")
        first = {name for name, _ in layer_list[0].named_modules()}
        if self.targets is not None:
            wanted = tuple(self.targets)
        elif self.model_type in LLAMA_FAMILY:
            wanted = LLAMA_TARGETS
        else:
            wanted = next(
                (c for c in DEFAULT_TARGETS if all(any(f == t or f.endswith("." + t) for f in first) for t in c)), ()
            )
            if not wanted:
                raise ConfigError(f"no default LoRA targets for {self.model_type!r}: pass targets=[...] (module names)")
        out = []
        for i in chosen:
            names = [name for name, _ in layer_list[i].named_modules() if name]
            layer = []
            for t in wanted:
                hits = [nm for nm in names if nm == t or nm.endswith("." + t)]
                if len(hits) != 1:
                    raise ConfigError(
                        f"layer {i} of {self.source} has {len(hits)} modules named {t!r} (need exactly 1)"
                    )
                layer.append(f"{prefix}{list_name}.{i}.{hits[0]}")
            out.append(layer)
        return out

    def build(self) -> nn.Module:
        model = self._auto().from_config(self.hf_config())
        module = HFModule(model, self)
        check_targets(module, module.lora_targets())
        return module

    def lora_target_names(self) -> list[list[str]]:
        if self._names is None:
            try:
                with torch.device("meta"):  # names only: no memory, no init
                    model = self._auto().from_config(self.hf_config())
            except Exception:
                model = self._auto().from_config(self.hf_config())
            self._names = self.targets_for(model, prefix="model.")
        return [list(t) for t in self._names]

    def initial_state(
        self,
        public_x: torch.Tensor | None,
        public_y: torch.Tensor | None,
        *,
        epochs: int,
        lr: float,
        batch_size: int,
        seed: int,
    ) -> tuple[Tensors, str]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the new head's init depends on the seed alone
            model = self._auto().from_pretrained(
                self.source,
                config=self.hf_config(),
                local_files_only=True,
                ignore_mismatched_sizes=True,
                dtype=torch.float32,
            )
            module = HFModule(model, self)
        check_targets(module, module.lora_targets())
        n = sum(p.numel() for p in model.parameters())
        head = "no head (causal LM)" if self.task == "causal-lm" else f"new head {list(module.head_names)} seeded"
        return {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, (
            f"pretrained weights from {self.source} ({self.model_type}, {n:,} parameters): the "
            f"never-deletable backbone, frozen; {head}"
        )

    def save_assets(self, directory: Path) -> None:
        d = directory / ASSETS_DIR
        d.mkdir(parents=True, exist_ok=True)
        self.hf_config().save_pretrained(str(d))
        if self.modality == "text":
            self.tokenizer.save_pretrained(str(d))
        else:
            src = Path(self.source) / "preprocessor_config.json"
            if src.is_file():
                (d / src.name).write_text(src.read_text())

    def to_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "task": self.task,
            "layers": self.layers,
            "targets": self.targets,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "num_classes": self.num_classes,
            "model_type": self.model_type,
            "modality": self.modality,
            "input_names": self.input_names,
            "image_shape": self.image_shape,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], directory: Path | None = None) -> HFBackbone:
        assets = directory / ASSETS_DIR if directory is not None else None
        return cls(
            config["source"],
            task=config["task"],
            layers=config["layers"],
            targets=config["targets"],
            max_length=config["max_length"],
            pooling=config["pooling"],
            num_classes=config["num_classes"],
            assets=assets,
        )

    # -- inputs ----------------------------------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str], text_pair: Sequence[str] | None = None) -> torch.Tensor:
        """Tokenise with the backbone's own (pretrained) tokenizer into packed int64 rows."""
        if self.modality != "text":
            raise DataError(f"{self.source} is an image model; it takes pixel arrays, not text")
        texts = list(texts)
        bad = next((k for k, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise DataError(f"text {bad} is not a string ({texts[bad]!r})")
        enc = self.tokenizer(
            texts,
            list(text_pair) if text_pair is not None else None,
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_token_type_ids="token_type_ids" in self.input_names,
        )
        return torch.cat([enc[n].long() for n in self.input_names], dim=1)

    def as_input(self, x: Any) -> torch.Tensor:
        if self.modality == "text":
            if isinstance(x, str):
                x = [x]
            if isinstance(x, list | tuple) and x and isinstance(x[0], str):
                return self.encode_texts(x)
            t = torch.as_tensor(x)
            if t.ndim != 2 or t.shape[1] != self.in_features or t.is_floating_point():
                raise DataError(
                    f"expected texts or encoded int rows of shape (n, {self.in_features}), got {tuple(t.shape)}"
                )
            return t.long()
        t = torch.as_tensor(np.asarray(x, dtype=np.float32)) if not isinstance(x, torch.Tensor) else x.float()
        if t.ndim > 2 and t[0].numel() == self.in_features:
            t = t.reshape(len(t), -1)  # (n, C, H, W) or (n, H, W) already preprocessed (data.images)
        return super().as_input(t)

    def describe(self) -> dict[str, Any]:
        return {
            **self.to_config(),
            "lora_layers": self.num_layers,
            "lora_targets": self.lora_target_names(),
            "never_deletable": "the pretrained weights and tokenizer",
        }
