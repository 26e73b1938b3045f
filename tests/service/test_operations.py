"""Operations: Prometheus metrics scraped from a real server, JSON logs without raw ids, offline API docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from svc_helpers import Server, auth, harmless_ids, wait_state

pytest.importorskip("prometheus_client")


def _scrape(url: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of one scrape (an admin token; 401 without)."""
    r = httpx.get(f"{url}/metrics", headers=auth("admin"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, float] = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_metrics_move_as_requests_flow_and_logs_carry_no_raw_ids(
    model_dir: Path, tokens_file: Path, tmp_path: Path, procs: list, s3t_data
) -> None:
    log = tmp_path / "server.log"
    srv = Server(model_dir, tokens_file, log, extra=["--log-level", "info"])
    procs.append(srv)
    srv.wait_ready()
    url = srv.url

    assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
    assert httpx.get(f"{url}/metrics", headers=auth("alice"), timeout=10).status_code == 403
    before = _scrape(url)
    assert before['unlearnkit_deletion_requests{state="completed"}'] == 0
    assert before["unlearnkit_deletion_time_to_compliance_seconds_count"] == 0
    assert before['unlearnkit_model_version{source="store"}'] == 1
    assert before['unlearnkit_shards{state="alive"}'] == 2
    assert 0 < before["unlearnkit_deletion_capacity_remaining"] < 1e6

    x = s3t_data.x[:3].tolist()
    for _ in range(4):
        r = httpx.post(f"{url}/v1/predict", json={"instances": x}, headers=auth("predict"), timeout=10)
        assert r.status_code == 200
    ids = harmless_ids(model_dir, 2)
    owner = next(o for o in s3t_data.owners if o is not None)
    trace = "trace-ops-0001"
    with httpx.Client(base_url=url, timeout=10) as client:
        a = client.post("/v1/deletion-requests", json={"ids": ids}, headers={**auth("alice"), "X-Request-ID": trace})
        assert a.status_code == 202 and a.headers["x-request-id"] == trace
        b = client.post("/v1/deletion-requests", json={"owner": owner}, headers=auth("alice"))
        assert b.status_code == 202 and re.fullmatch(r"[0-9a-f]{32}", b.headers["x-request-id"])
        wait_state(client, a.json()["id"], timeout=60)
        wait_state(client, b.json()["id"], timeout=60)
    after = _scrape(url)

    assert after['unlearnkit_deletion_requests{state="completed"}'] == 2
    assert after["unlearnkit_deletion_time_to_compliance_seconds_count"] == 2
    assert after["unlearnkit_deletion_time_to_compliance_seconds_sum"] > 0
    assert after['unlearnkit_deletion_queue_depth{kind="forget"}'] == 0
    assert after["unlearnkit_deletion_requests_overdue"] == 0
    assert after['unlearnkit_model_version{source="store"}'] >= 3
    assert after["unlearnkit_predict_latency_seconds_count"] == 4
    assert any(k.startswith("unlearnkit_worker_lease_holder{") for k in after)
    assert after["unlearnkit_deletion_capacity_remaining"] < before["unlearnkit_deletion_capacity_remaining"]
    # scrapes are incremental: a third scrape counts the same completions once
    assert _scrape(url)["unlearnkit_deletion_time_to_compliance_seconds_count"] == 2

    srv.stop()
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    events = [r for r in records if "event" in r]
    mine = [r for r in events if r.get("request_id") == a.json()["id"]]
    assert next(r["event"] for r in mine) == "deletion.received"
    assert {r.get("state") for r in mine if r["event"] == "deletion.state"} >= {"planned", "unlearning", "completed"}
    assert all(r.get("trace_id") == trace for r in mine), "the HTTP trace id follows the request into the worker"
    assert any(r["event"] == "model.swapped" for r in events)
    text = log.read_text()
    assert owner not in text
    for r in events:
        assert not {"ids", "owner", "sample_id", "sample_ids"} & set(r), r


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_render_from_local_assets_only(make_client, model_dir: Path, page: str) -> None:
    client = make_client(model_dir)
    r = client.get(page)
    assert r.status_code == 200
    html = r.text
    assert "cdn" not in html.lower() and "googleapis" not in html
    refs = re.findall(r"""(?:src|href|spec-url)=['"]([^'"]+)['"]""", html)
    refs += re.findall(r"""url: ['"]([^'"]+)['"]""", html)
    assert "/openapi.json" in refs
    for ref in refs:
        assert ref.startswith("/"), f"{ref} is not served by this host"
        body = client.get(ref)
        assert body.status_code == 200 and len(body.content) > 1000, ref
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and spec["paths"]["/v1/exports"]
    if page == "/docs":  # Swagger UI 4 cannot read OpenAPI 3.1 (it renders an error page): the bundle must be 5+
        js = client.get("/docs/assets/swagger-ui-bundle.js").text
        assert re.search(r'"5\.\d+\.\d+"', js)


def test_metrics_settings_public_and_separate_port(make_client, model_dir: Path) -> None:
    client = make_client(model_dir, metrics_public=True)
    assert client.get("/metrics").status_code == 200
    from svc_helpers import free_port

    port = free_port()
    other = make_client(model_dir, metrics_port=port)
    assert other.get("/metrics").status_code == 404
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "unlearnkit_model_version" in r.text
