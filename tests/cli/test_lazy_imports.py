"""Start-up cost: ``import unlearnkit`` and the command line (every command registered) import no heavy optional
library; each command imports what it needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: libraries that cost seconds to import or come from extras: never imported just to start
HEAVY = (
    "transformers",
    "peft",
    "torch_geometric",
    "matplotlib",
    "fastapi",
    "uvicorn",
    "sklearn",
    "scipy",
    "pyarrow",
    "ray",
    "trimesh",
    "onnx",
    "onnxruntime",
    "pandas",
    "sqlalchemy",
    "rich",
)

PROBE = """
import json, sys
heavy = {heavy!r}
loaded = lambda: sorted(m for m in heavy if m in sys.modules)
import unlearnkit
after_package = loaded()
from unlearnkit.cli import _load_commands, app
_load_commands()
print(json.dumps({{"package": after_package, "cli": loaded()}}))
"""


def test_package_and_cli_import_no_heavy_library():
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"package": [], "cli": []}


# -- no torch until a path trains or predicts ----------------------------------------------------------------------
#: what a deletion that only moves pointers must never import (seconds of start-up, or optional extras)
NO_TORCH = ("torch", "scipy", "sklearn", "pyarrow", "transformers", "peft")

LOADED = "sorted(m for m in sys.modules if m.split('.')[0] in {names!r})"

CLI_PROBE = """
import json, sys
from unlearnkit.cli import main
sys.argv = ["unlearnkit", *{argv!r}]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print("LOADED", json.dumps({loaded}))
"""


def _probe(code: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    import os

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = [line for line in out.stdout.splitlines() if line.startswith("LOADED ")][-1]
    return json.loads(last[len("LOADED ") :]), out.stdout


def test_package_exact_and_lineage_import_no_torch():
    code = "import json, sys\nimport unlearnkit, unlearnkit.exact, unlearnkit.lineage\n"
    code += "from unlearnkit import S3T, SISA, Retrain, RunContext, LineageStore, load_strategy\n"
    code += f"print('LOADED', json.dumps({LOADED.format(names=set(NO_TORCH))}))\n"
    loaded, _ = _probe(code)
    assert loaded == []


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, small_train, public):
    from tests.conftest import TINY
    from unlearnkit.exact import S3T, SISA

    root = tmp_path_factory.mktemp("lazy")
    S3T(shards=2, slices=2, budget=2, **TINY).fit(small_train, public, directory=root / "s3t").close()
    SISA(shards=2, slices=2, mode="retrain", **TINY).fit(small_train, public, directory=root / "sisa").close()
    return root, [int(i) for i in small_train.ids[:4]]


def test_cli_forget_fast_path_imports_no_torch(tiny_models):
    root, ids = tiny_models
    loaded_names = LOADED.format(names=set(NO_TORCH))
    for argv in (
        ["forget", str(root / "s3t"), "--ids", str(ids[0]), "--json"],
        ["forget", str(root / "s3t"), "--ids", str(ids[1])],  # the table output (with the capacity warning check)
    ):
        loaded, stdout = _probe(CLI_PROBE.format(argv=argv, loaded=loaded_names))
        assert "forgot 1 sample" in stdout or '"count": 1' in stdout, stdout
        assert loaded == [], f"{argv}: imported {loaded}"


#: records torch's thread count at every training call, without importing torch before the code under test does
RECORD_TRAINING = """
import unlearnkit.exact.training as training
seen = []
real_task = training.run_shard_task

def recording_task(task):
    import unlearnkit.models.train as train
    real = train.train_epochs

    def recording(*args, **kwargs):
        import torch
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    train.train_epochs = recording
    try:
        return real_task(task)
    finally:
        train.train_epochs = real

training.run_shard_task = recording_task
"""

THREADS_PROBE = (
    RECORD_TRAINING
    + """
import json, sys
assert "torch" not in sys.modules
from unlearnkit.cli import main
sys.argv = ["unlearnkit", "forget", {directory!r}, "--ids", "{first}", "--json"]
try:
    main()  # the CLI's RunContext (one thread) is made before the retrain imports torch
except SystemExit as exc:
    assert not exc.code, exc.code
cli = list(seen)
seen.clear()

from unlearnkit import RunContext
from unlearnkit.exact import load_strategy

model = load_strategy({directory!r}, ctx=RunContext(threads={threads}))
receipt = model.forget([{second}])
import torch
after_forget = torch.get_num_threads()
torch.set_num_threads(1 if {threads} != 1 else 2)  # a later prediction sets the context's count again
model.predict_proba(__import__("numpy").zeros((2, model.num_features), dtype="float32"))
predict = torch.get_num_threads()
model.close()
print("LOADED", json.dumps({{"cli": cli, "retrained": len(receipt.retrained), "train": seen, "after": after_forget,
                            "predict": predict}}))
"""
)


def test_retraining_forget_and_predict_run_with_the_context_threads(tiny_models):
    """A SISA deletion retrains: through the CLI (torch first imported by the retrain, after the CLI's RunContext was
    made) it trains with one thread; through the API with a context's ``threads`` it trains and predicts with those,
    never with torch's default (``OMP_NUM_THREADS`` makes the default differ from both)."""
    import os

    root, ids = tiny_models
    threads = (os.cpu_count() or 1) + 2
    code = THREADS_PROBE.format(directory=str(root / "sisa"), threads=threads, first=ids[2], second=ids[3])
    got, _ = _probe(code, env={"OMP_NUM_THREADS": str(threads + 1)})
    assert got["cli"] and set(got["cli"]) == {1}, got
    assert got["retrained"] >= 1 and got["train"], got
    assert set(got["train"]) == {threads}, got
    assert got["after"] == threads and got["predict"] == threads, got


def test_run_context_made_before_torch_sets_its_threads_when_torch_is_imported():
    code = (
        "import json, sys\nfrom unlearnkit import RunContext\nRunContext(threads=3)\n"
        "assert 'torch' not in sys.modules\nimport torch\n"
        "print('LOADED', json.dumps(torch.get_num_threads()))\n"
    )
    threads, _ = _probe(code, env={"OMP_NUM_THREADS": "2"})
    assert threads == 3
