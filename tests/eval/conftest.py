"""Session fixtures of the evaluation tests: one tiny class-forgetting and one random-forgetting task."""

from __future__ import annotations

import pytest
import torch

from unlearnkit.bench.approx import Task, tiny_task


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_class_task() -> Task:
    """Class 3 of 300 digits, width-32 ResMLP (40 epochs)."""
    return tiny_task("class")


@pytest.fixture(scope="session")
def small_random_task() -> Task:
    """Random 10% forgetting on a memorising 300-digit setup (20% label noise)."""
    return tiny_task("random")
