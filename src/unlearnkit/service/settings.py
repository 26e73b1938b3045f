"""Service settings, from arguments or ``UNLEARNKIT_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the server and the worker need; the CLI fills the first four from its arguments."""

    model_config = SettingsConfigDict(env_prefix="UNLEARNKIT_", extra="ignore")

    model_dir: Path = Field(description="the model directory (exact strategy or a `standard` monolithic model)")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default: sqlite:///MODEL_DIR/lineage.db")
    tokens_file: Path | None = Field(None, description="bearer tokens: lines `role:token` or JSON")
    key_path: Path | None = Field(None, description="Ed25519 private key (PEM); default MODEL_DIR/signing/ed25519.pem")
    run_worker: bool = Field(True, description="run the job worker in a thread of the server")
    strategy_loader: str = Field(
        "unlearnkit.exact:load_strategy", description="`module:function(directory, db_url=...)` opening a strategy"
    )

    # request limits (4xx beyond them)
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest request body accepted (413 beyond)")
    max_instances: int = Field(1024, ge=1, description="most instances in one predict call")
    max_ids: int = Field(10_000, ge=1, description="most sample ids in one deletion request")

    # queue and worker
    lease_seconds: float = Field(30.0, gt=0, description="worker lease; a dead worker's jobs are re-claimed after it")
    poll_seconds: float = Field(0.5, gt=0, description="how often an idle worker looks for jobs")
    refresh_seconds: float = Field(0.2, gt=0, description="how often the server reloads state another process changed")
    worker_nice: int = Field(
        10, ge=0, le=19, description="CPU niceness of the worker thread (Linux): retrains yield cores to predictions"
    )
    group_commit: int = Field(
        64, ge=1, description="most queued deletion requests the worker commits in one transaction (1: one by one)"
    )
    max_attempts: int = Field(5, ge=1, description="attempts per job before it is given up (request `failed`)")
    backoff_seconds: float = Field(2.0, ge=0, description="first retry delay; doubles per attempt")
    backoff_max_seconds: float = Field(300.0, ge=0, description="longest retry delay")
    token_cache_seconds: float = Field(
        1.0, gt=0, description="how often tokens stored in the database are reloaded (a revoked token works until then)"
    )

    # monolithic ("standard") models: approximate unlearning behind checks
    approx_method: str = Field("ft", description="registered approximate method used on `standard` models")
    approx_config: dict[str, Any] = Field(default_factory=dict, description="overrides of the method's config")
    approx_max_utility_drop: float = Field(
        0.05, ge=0, le=1, description="largest held-out accuracy drop the unlearned model may show"
    )
    approx_mia_tolerance: float = Field(
        0.1, ge=0, le=0.5, description="loss-MIA AUC (forget vs held-out) may exceed 0.5 by this (or 2 std errors)"
    )

    # operations
    log_format: Literal["json", "text"] = Field("json", description="server logs: JSON lines or plain text")
    metrics_public: bool = Field(False, description="serve /metrics without a token (else an admin token)")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="serve Prometheus metrics on this port instead of /metrics (no token)"
    )
    metrics_addr: str = Field("127.0.0.1", description="interface of the separate metrics port")
    exports_dir: Path | None = Field(None, description="where POST /v1/exports writes files; default MODEL_DIR/exports")

    @property
    def exports_path(self) -> Path:
        return Path(self.exports_dir) if self.exports_dir else Path(self.model_dir) / "exports"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(Path(self.model_dir) / 'lineage.db').resolve()}"

    @property
    def signing_key_path(self) -> Path:
        return Path(self.key_path) if self.key_path else Path(self.model_dir) / "signing" / "ed25519.pem"
