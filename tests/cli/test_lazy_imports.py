"""Start-up cost: ``import unlearnkit`` and the command line (every command registered) import no heavy optional
library; each command imports what it needs when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

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
