"""Extraction attacks on "deleted" facts (Patil et al., arXiv 2309.17410) and the deletion metrics.

- :mod:`.head_projection`, :mod:`.probability_delta` — whitebox (logit lens on the layers after the edit);
  :mod:`.input_rephrasing` — blackbox (sampling on unseen paraphrases); :mod:`.union` — any of them.
  Registered in :data:`ATTACKS`; each returns at most B candidate tokens.
- :mod:`.metrics` — Attack-Success@B, Rewrite Score, ΔAcc, per-layer answer ranks, :func:`evaluate_edit`.
"""

from unlearnkit.llm.attacks.base import ATTACKS, Attack, AttackConfig, LensAttackConfig

__all__ = ["ATTACKS", "Attack", "AttackConfig", "LensAttackConfig"]
