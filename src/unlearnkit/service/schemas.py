"""Request and response bodies of the HTTP API (pydantic), kept apart from the ORM tables."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
SampleId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1, strict=True)]
Owner = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=PRINTABLE)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=PRINTABLE)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True, pattern=r"^[^\x00]+$")]
Feature = Annotated[float, Field(allow_inf_nan=False)]
RequestState = Literal["received", "planned", "unlearning", "completed", "rejected", "failed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- predict ----------------------------------------------------------------------------------------------
class PredictIn(Strict):
    instances: list[Annotated[list[Feature], Field(min_length=1)]] = Field(
        min_length=1, description="rows of features, each of the model's input width", examples=[[[0.0] * 4]]
    )


class PredictOut(BaseModel):
    predictions: list[int] = Field(description="predicted class of each instance")
    probabilities: list[list[float]] = Field(description="class probabilities of each instance")
    model_version: int = Field(description="the served model version that answered")
    guarantee: str = Field(
        description="what answered: exact:ensemble, exact:public-fallback, approximate:<method>, or original"
    )


# -- deletion requests ---------------------------------------------------------------------------------------
class DeletionIn(Strict):
    """Exactly one of ``ids`` (training sample ids) or ``owner`` (a data subject's identifier)."""

    ids: list[SampleId] | None = Field(None, min_length=1, description="training sample ids to forget")
    owner: Owner | None = Field(None, description="forget every sample of this data subject")
    external_ref: Reference | None = Field(
        None, description="your unique reference; resubmitting it returns the same request"
    )

    @model_validator(mode="after")
    def _one_target(self) -> DeletionIn:
        if (self.ids is None) == (self.owner is None):
            raise ValueError("give exactly one of `ids` or `owner`")
        return self


class Accepted(BaseModel):
    id: str
    state: RequestState
    due_at: str = Field(description="one calendar month after receipt (GDPR Art. 12(3)), ISO-8601 UTC")


class DeletionOut(BaseModel):
    id: str
    state: RequestState
    kind: Literal["ids", "owner"]
    count: int = Field(description="number of ids named (for an owner: resolved when the request runs)")
    external_ref: str | None = None
    submitter: str
    received_at: str
    due_at: str
    extended_until: str | None = None
    extension_reason: str | None = None
    deadline: str = Field(description="`extended_until` if extended, else `due_at`")
    overdue: bool = Field(description="open and past its deadline")
    rejection_reason: str | None = None
    completed_at: str | None = None
    attempts: int
    last_error: str | None = None
    next_attempt_at: str | None = None
    guarantee: str | None = None
    model_version_before: int | None = None
    model_version_after: int | None = None
    receipt_url: str | None = None


class DeletionList(BaseModel):
    items: list[DeletionOut]
    total: int
    limit: int
    offset: int


class ExtendIn(Strict):
    months: int = Field(2, ge=1, le=2, description="further months (at most two in all)")
    reason: Reason = Field(description="why: recorded and told to the data subject")


class RejectIn(Strict):
    reason: Reason = Field(description="the ground for refusing (e.g. a GDPR Art. 17(3) exception)")


# -- receipts and keys -----------------------------------------------------------------------------------------
class Signature(BaseModel):
    alg: Literal["Ed25519"]
    key_id: str
    value: str = Field(description="base64 signature over the canonical JSON of `receipt`")


class SignedReceipt(BaseModel):
    receipt: dict[str, Any]
    signature: Signature


class PublicKey(BaseModel):
    key_id: str
    alg: Literal["Ed25519"]
    public_key: str = Field(description="base64 of the raw 32-byte public key")
    public_key_pem: str


class Keys(BaseModel):
    keys: list[PublicKey]
    canonicalization: str = "JSON, keys sorted, separators (',', ':'), ASCII"


# -- models, audit, health -------------------------------------------------------------------------------------
class ModelInfo(BaseModel):
    kind: str
    exact: bool
    model_version: int
    num_features: int
    num_classes: int
    pending_retrain: list[int]
    approximate_method: str | None = None


class AuditOut(BaseModel):
    ok: bool
    events: int
    problems: list[str]
    receipts_checked: int


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    detail: Any
