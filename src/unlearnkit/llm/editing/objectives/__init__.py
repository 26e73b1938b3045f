"""Deletion objectives (Empty Response, Fact Erasure, Error Injection) and defenses (Head Projection,
Max-Entropy, Input Rephrasing), each a term of the edit objective; registered in :data:`OBJECTIVES`."""

from unlearnkit.llm.editing.objectives.base import OBJECTIVES, EditView, Objective, ObjectiveConfig

__all__ = ["OBJECTIVES", "EditView", "Objective", "ObjectiveConfig"]
