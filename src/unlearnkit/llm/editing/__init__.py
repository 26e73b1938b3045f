"""Editing a fact out of a causal LM (Patil et al., arXiv 2309.17410): editors × deletion objectives/defenses.

- :mod:`.rome` — ROME (rank-one update of one MLP output projection); :mod:`.memit` — MEMIT (the same kind
  of update spread over a window of layers); :mod:`.constrained_ft` — constrained fine-tuning of that matrix.
  All are methods registered with ``family="llm_edit"``.
- :mod:`.objectives` — Empty Response, Fact Erasure, Error Injection and the Head-Projection, Max-Entropy and
  Input-Rephrasing defenses, registered in :data:`OBJECTIVES`.

    from unlearnkit.llm.editing import OBJECTIVES, editor
    result = editor("rome", layer=1).edit(model, tokenizer, fact, OBJECTIVES.build("fact_erasure"))
"""

from __future__ import annotations

from typing import Any

from unlearnkit.llm.editing.base import EditConfig, Editor, EditResult
from unlearnkit.llm.editing.objectives import OBJECTIVES, EditView, Objective


def editor_names() -> list[str]:
    from unlearnkit.registry import list_methods

    return [m.name.removeprefix("llm_") for m in list_methods(family="llm_edit")]


def editor(name: str, toy: bool = False, **overrides: Any) -> Editor:
    """The registered editor ``name`` (``rome``, ``memit``, ``constrained_ft``) with its ``toy`` settings when
    asked, and ``overrides``."""
    from unlearnkit.approx._common import config_from_dict
    from unlearnkit.errors import ConfigError
    from unlearnkit.registry import get_method

    full = name if name.startswith("llm_") else f"llm_{name}"
    try:
        info = get_method(full)
    except ConfigError:
        info = None
    if info is None or info.family != "llm_edit":
        raise ConfigError(f"unknown editor {name!r}; editors: {', '.join(editor_names())}")
    cls = info.cls
    return cls(config_from_dict(cls.config_cls, {**(cls.toy if toy else {}), **overrides}))


__all__ = ["OBJECTIVES", "EditConfig", "EditResult", "EditView", "Editor", "Objective", "editor", "editor_names"]
