"""``POST /v1/predict``: predictions from the served snapshot (never blocked by a running deletion).

Every answer names the model version and the guarantee that produced it: ``exact:ensemble`` (shard models
whose lineage excludes every deleted id), ``exact:public-fallback`` (every shard awaits retraining; the
backbone trained only on public data answers), ``approximate:<method>`` or ``original (no deletion yet)`` for
monolithic models."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, HTTPException

from unlearnkit.errors import DataError, RetrainRequiredError, UnlearnkitError
from unlearnkit.service.auth import Principal
from unlearnkit.service.core import ServiceContext
from unlearnkit.service.deps import AUTH_RESPONSES, get_svc, require
from unlearnkit.service.schemas import ErrorOut, PredictIn, PredictOut

router = APIRouter(tags=["predict"])
FLOAT32_MAX = float(np.finfo(np.float32).max)


@router.post(
    "/predict",
    response_model=PredictOut,
    responses={**AUTH_RESPONSES, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def predict(
    body: PredictIn, svc: ServiceContext = Depends(get_svc), _: Principal = Depends(require("predict"))
) -> PredictOut:
    backend, limit = svc.backend, svc.settings.max_instances
    if len(body.instances) > limit:
        raise HTTPException(422, f"at most {limit} instances per request, got {len(body.instances)}")
    bad = next((k for k, row in enumerate(body.instances) if len(row) != backend.num_features), None)
    if bad is not None:
        raise HTTPException(
            422, f"instance {bad} has {len(body.instances[bad])} features; the model takes {backend.num_features}"
        )
    x = np.asarray(body.instances, dtype=np.float64)
    if np.abs(x).max() > FLOAT32_MAX:
        raise HTTPException(422, "feature values must fit in float32")
    x32 = x.astype(np.float32)
    try:
        backend.refresh()  # a change committed by any process is served before this answer
    except UnlearnkitError as exc:
        raise HTTPException(
            503,
            f"the served model could not be brought up to date ({type(exc).__name__}); not answering",
            headers={"Retry-After": "1"},
        ) from exc
    try:
        probs, version, guarantee = backend.predict_served(x32)  # one snapshot: its version and guarantee
    except RetrainRequiredError as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
    except DataError as exc:
        raise HTTPException(422, str(exc)) from exc
    if not np.isfinite(probs).all():
        raise HTTPException(422, "the model's outputs are not finite for these inputs (values too large?)")
    return PredictOut(
        predictions=probs.argmax(axis=1).tolist(),
        probabilities=np.round(probs.astype(np.float64), 6).tolist(),
        model_version=version,
        guarantee=guarantee,
    )
