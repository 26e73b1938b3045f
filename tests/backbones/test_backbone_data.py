"""Image loaders, default LoRA targets of more architectures, and the optional-extra hints (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearnkit.errors import ConfigError, DataError


def test_image_folder_and_npy(hf_dirs, tmp_path):
    from PIL import Image

    from unlearnkit.data.images import load_image_folder, load_npy, preprocess_images
    from unlearnkit.models.backbones.hf import HFBackbone

    bb = HFBackbone(hf_dirs["vit"])
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(tmp_path / "imgs" / cls / f"{k}.png")
    d = load_image_folder(tmp_path / "imgs", bb)
    assert len(d) == 6 and d.label_names == ("cat", "dog") and d.external_ids[0] == "cat/0.png"
    assert d.x.shape == (6, 64) and float(d.x.max()) <= 1.0  # resized to 8×8, scaled to [0, 1]
    np.save(tmp_path / "x.npy", rng.integers(0, 255, (4, 8, 8), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.array([0, 1, 1, 0]))
    n = load_npy(tmp_path / "x.npy", tmp_path / "y.npy", bb, num_classes=2)
    assert len(n) == 4 and n.num_classes == 2
    assert torch.equal(bb.as_input(preprocess_images(bb, np.zeros((2, 8, 8)))), torch.zeros(2, 64))
    with pytest.raises(DataError, match="channels"):
        preprocess_images(bb, np.zeros((2, 2, 8, 8), dtype=np.float32))


@pytest.mark.parametrize(
    "arch,expected",
    [
        ("llama", ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
        ("distilbert", ["q_lin", "v_lin"]),
        ("roberta", ["query", "value"]),
    ],
)
def test_default_lora_targets_follow_the_s3t_code(arch, expected, tmp_path):
    """Llama-family models get LoRA on all seven projections, encoders on query/value (exact per-layer names)."""
    import transformers as tf

    from tests.backbones.tiny_hf import word_tokenizer
    from unlearnkit.models.backbones.hf import HFBackbone

    tok = word_tokenizer(eos=arch == "llama")
    small = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    if arch == "llama":
        cfg, cls = (
            tf.LlamaConfig(
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=3,
                num_attention_heads=2,
                num_key_value_heads=2,
                **small,
            ),
            tf.LlamaForCausalLM,
        )
    elif arch == "distilbert":
        cfg, cls = tf.DistilBertConfig(dim=16, hidden_dim=32, n_layers=3, n_heads=2, **small), tf.DistilBertModel
    else:
        cfg, cls = (
            tf.RobertaConfig(
                hidden_size=16,
                intermediate_size=32,
                num_hidden_layers=3,
                num_attention_heads=2,
                max_position_embeddings=40,
                **small,
            ),
            tf.RobertaModel,
        )
    cls(cfg).save_pretrained(tmp_path / arch)
    tok.save_pretrained(tmp_path / arch)
    bb = HFBackbone(tmp_path / arch, task="causal-lm" if arch == "llama" else "classification", layers=[0, 2])
    names = bb.lora_target_names()
    assert len(names) == 2 and [n.rsplit(".", 1)[-1] for n in names[0]] == expected
    assert all(".0." in n for n in names[0]) and all(".2." in n for n in names[1])
    module = bb.bind(3, bb.in_features).build()
    assert module.lora_targets() == names


def test_bad_backbone_options_are_one_line(hf_dirs):
    from unlearnkit.models.backbones import resolve_backbone
    from unlearnkit.models.backbones.hf import HFBackbone

    with pytest.raises(ConfigError, match=r"distinct indices in \[0, 4\)"):
        HFBackbone(hf_dirs["bert"], layers=[1, 7]).lora_target_names()
    with pytest.raises(ConfigError, match="modules named 'nope'"):
        HFBackbone(hf_dirs["bert"], targets=["nope"]).lora_target_names()
    with pytest.raises(ConfigError, match="unknown backbone"):
        resolve_backbone("torch:resnet")


def test_torchvision_is_an_optional_extra(monkeypatch, tmp_path):
    import builtins

    from unlearnkit.data.images import torchvision_arrays

    real = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name == "torchvision":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    with pytest.raises(ConfigError, match=r"unlearnkit\[vision\]"):
        torchvision_arrays("cifar10", tmp_path)
