"""Tiny Hugging Face models (random configs saved to a temp dir) and the data the backbone tests share."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory):
    from tests.backbones.tiny_hf import save_tiny_bert, save_tiny_gpt2, save_tiny_vit

    root = tmp_path_factory.mktemp("hf")
    return {
        "bert": save_tiny_bert(root / "bert"),
        "gpt2": save_tiny_gpt2(root / "gpt2"),
        "vit": save_tiny_vit(root / "vit"),
    }
