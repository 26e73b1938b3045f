"""Scene fixtures: the generated demo room and a bare table, built once per session."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("trimesh") is None:  # without the scene extra there is nothing here to test
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def demo():
    from unlearnkit.scene import demo_scene

    return demo_scene()


@pytest.fixture(scope="session")
def library():
    from unlearnkit.scene import MeshLibrary

    return MeshLibrary(use_packaged=False)


@pytest.fixture(scope="session")
def cluttered(library):
    """A floor, a 1.2 × 0.8 m table and a box near one corner of its top."""
    from unlearnkit.scene import Scene
    from unlearnkit.scene.demo import floor, put

    s = Scene()
    floor(s)
    put(s, library, "table", (0.0, 0.0))
    put(s, library, "box", (-0.38, 0.18), on="table_0")
    return s
