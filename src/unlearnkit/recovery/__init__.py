"""Recovery after pruning or approximate unlearning: PASER selection with forget-aware filters and a guard.

::

    from unlearnkit.recovery import Candidates, ClassifierSubject, SelectConfig, recover
    result = recover(ClassifierSubject(keep_classes), damaged, reference, Candidates.from_dataset(pool), 0.05,
                     forget=Candidates.from_dataset(forget_rows))
    result.accepted, result.manifest["selected_id_hashes"]

Parts: ``prune/`` (magnitude, Wanda; registered pruners), ``select.py`` (PASER's three stages),
``filters/`` (near-duplicate, forget-concept, gradient-alignment filters; PASER's consistency graph),
``classifier.py`` / ``lm.py`` (what a model kind needs), ``guard.py``, ``run.py`` (``recover``), ``io.py``.
"""

from unlearnkit.recovery.allocate import allocate
from unlearnkit.recovery.candidates import Candidates, read_row_candidates, read_text_candidates
from unlearnkit.recovery.classifier import ClassifierSubject
from unlearnkit.recovery.divergence import class_jsd, jsd, token_jsd
from unlearnkit.recovery.guard import GuardConfig, GuardDecision, decide
from unlearnkit.recovery.lm import LMSubject
from unlearnkit.recovery.prune import PRUNERS, PruneConfig, get_pruner, sparsity_of
from unlearnkit.recovery.run import RecoveryResult, build_manifest, id_hashes, recover
from unlearnkit.recovery.select import SelectConfig, SelectionResult, resolve_budget, select
from unlearnkit.recovery.subject import RecoveryTrainConfig, Subject

__all__ = [
    "PRUNERS",
    "Candidates",
    "ClassifierSubject",
    "GuardConfig",
    "GuardDecision",
    "LMSubject",
    "PruneConfig",
    "RecoveryResult",
    "RecoveryTrainConfig",
    "SelectConfig",
    "SelectionResult",
    "Subject",
    "allocate",
    "build_manifest",
    "class_jsd",
    "decide",
    "get_pruner",
    "id_hashes",
    "jsd",
    "read_row_candidates",
    "read_text_candidates",
    "recover",
    "resolve_budget",
    "select",
    "sparsity_of",
    "token_jsd",
]
