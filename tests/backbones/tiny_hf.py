"""Tiny random-config Hugging Face models saved to a directory and reloaded with ``from_pretrained``.

The word-level tokenizers are built in code from public text only (never from deletable rows).
"""

from __future__ import annotations

import random
from pathlib import Path

from transformers.utils import logging as _hf_logging

_hf_logging.disable_progress_bar()

TOPICS = {
    "sports": ["match", "goal", "team", "coach", "league", "striker"],
    "food": ["soup", "bread", "cheese", "pasta", "salad", "curry"],
    "tech": ["laptop", "chip", "server", "phone", "router", "kernel"],
}
ADJECTIVES = ["great", "awful", "new", "old", "small", "famous", "cheap", "quiet"]
VERBS = ["was", "seemed", "looked", "felt"]
# Public text: never deletable; the tokenizer's vocabulary comes from it alone.
PUBLIC_TEXT = [
    f"the {a} {w} {v} {b}"
    for ws in TOPICS.values()
    for w in ws
    for a in ADJECTIVES[:2]
    for v in VERBS
    for b in ADJECTIVES[2:4]
]


def topic_texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` generated sentences and their topic names."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        topic = rng.choice(sorted(TOPICS))
        texts.append(
            f"the {rng.choice(ADJECTIVES)} {rng.choice(TOPICS[topic])} {rng.choice(VERBS)} {rng.choice(ADJECTIVES)}"
        )
        labels.append(topic)
    return texts, labels


def word_tokenizer(eos: bool = False):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[EOS]"]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(PUBLIC_TEXT, trainers.WordLevelTrainer(special_tokens=special))
    kwargs = {"eos_token": "[EOS]"} if eos else {"cls_token": "[CLS]", "sep_token": "[SEP]"}
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", **kwargs)


def save_tiny_bert(directory: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    tok = word_tokenizer()
    cfg = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def save_tiny_gpt2(directory: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = word_tokenizer(eos=True)
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_embd=32,
        n_layer=4,
        n_head=2,
        n_positions=32,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    GPT2LMHeadModel(cfg).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def save_tiny_vit(directory: Path) -> Path:
    import torch
    from transformers import ViTConfig, ViTModel

    cfg = ViTConfig(
        image_size=8,
        patch_size=4,
        num_channels=1,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    ViTModel(cfg).save_pretrained(directory)
    return directory
