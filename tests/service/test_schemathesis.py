"""Property-based checks against the published OpenAPI schema (schemathesis): no 5xx, responses as documented.

Bounded (a few dozen examples per operation) so that it runs in CI in well under a minute.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from svc_helpers import TOKEN_LINES, auth  # noqa: E402


@pytest.fixture(scope="module")
def started_app(s3t_template: Path, tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    from unlearnkit.service.app import create_app
    from unlearnkit.service.settings import Settings

    root = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(s3t_template, root / "model")
    (root / "tokens").write_text(TOKEN_LINES)
    app = create_app(
        Settings(
            model_dir=root / "model",
            tokens_file=root / "tokens",
            run_worker=False,
            max_body_bytes=65536,
            max_ids=50,
            max_instances=16,
        )
    )
    with TestClient(app):  # runs the lifespan: the app is started
        yield app


MAX_EXAMPLES = 30
HEAVY = ("/v1/exports", "POST")


def fuzz_openapi(app, max_examples: int = MAX_EXAMPLES) -> Counter[int]:
    """Every operation of ``app`` (started): generated bodies, parameters and headers, valid and not → never a
    5xx, and every response is documented with the documented body shape. Returns the status counts."""
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    statuses: Counter[int] = Counter()
    for operation in operations:
        # writing an export runs the ONNX exporter (seconds each): a few examples cover its validation
        heavy = (operation.path, operation.method.upper()) == HEAVY

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4 if heavy else max_examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            response = case.call_and_validate(
                headers={**(case.headers or {}), **auth("admin")},
                timeout=120 if (case.operation.path, case.operation.method.upper()) == HEAVY else 30,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )
            statuses[response.status_code] += 1

        check()
    return statuses


def test_openapi_no_server_errors(started_app):
    statuses = fuzz_openapi(started_app)
    # the generated traffic reached the handlers, not only the validation layer
    assert statuses[200] > 20 and statuses[422] > 20 and set(statuses) < set(range(200, 500)), statuses
