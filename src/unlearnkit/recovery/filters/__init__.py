"""Recovery filters: forget-aware pre-filters (registered in :data:`FILTERS`) and PASER's consistency graph."""

from unlearnkit.recovery.filters.base import (
    FILTERS,
    FilterInputs,
    FilterOutcome,
    RecoveryFilter,
    get_filter,
    register_filter,
)
from unlearnkit.recovery.filters.ccg import ConceptConsistencyGraph
from unlearnkit.recovery.filters.concepts import ConceptDenyFilter, mine_concepts, rake_phrases
from unlearnkit.recovery.filters.duplicate import DuplicateFilter
from unlearnkit.recovery.filters.gradient import GradientAlignmentFilter

__all__ = [
    "FILTERS",
    "ConceptConsistencyGraph",
    "ConceptDenyFilter",
    "DuplicateFilter",
    "FilterInputs",
    "FilterOutcome",
    "GradientAlignmentFilter",
    "RecoveryFilter",
    "get_filter",
    "mine_concepts",
    "rake_phrases",
    "register_filter",
]
