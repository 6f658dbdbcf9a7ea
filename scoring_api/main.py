"""The scoring API: online scores, the ranked sales queue, and health, behind API keys."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from ingestion.contracts import DEFAULT_RULES, ContractRules, Event
from leadflow.serving import ServingReader
from models.scorer import Scorer, current_scorer
from scoring_api.deps import ROLES, require_roles, role_for_key
from scoring_api.errors import install_error_handlers
from scoring_api.guard import RequestGuard
from scoring_api.metrics import LatencyRecorder
from scoring_api.routes import events, health, leads, metrics, score

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestLimits:
    """What the API accepts: the contract's time window and the largest bodies it reads.

    Parameters: `rules` (the event contract's deployment settings), `events_body_bytes`
    (largest body of POST /v1/events), `body_bytes` (largest body of any other request).
    """

    rules: ContractRules = field(default=DEFAULT_RULES)
    events_body_bytes: int = 1024 * 1024
    body_bytes: int = 16 * 1024


def create_app(
    *,
    warehouse_path: Path,
    registry_dir: Path,
    api_keys: Mapping[str, str],
    publish_events: Callable[[Sequence[Event]], None] | None = None,
    limits: RequestLimits = RequestLimits(),  # noqa: B008 - frozen, so one shared default is safe
    serving_home: Path | None = None,
    serving_only: bool = False,
) -> FastAPI:
    """The API over one warehouse (read-only) and one registry; `api_keys` maps key to role.

    `publish_events` sends collected events to Kafka; without it `/v1/events` answers 503.
    `limits`: the contract's window and body sizes every request is held to.
    `serving_home`: the LEADFLOW_HOME whose published copies are read (leadflow/serving.py);
    by default the warehouse's folder. Until something is published there, the warehouse
    file itself is read, unless `serving_only` (under `leadflow run`, whose process holds
    the warehouse): then the API answers 503 until the first publication.
    """
    unknown_roles = sorted(set(api_keys.values()) - ROLES)
    if unknown_roles:
        raise ValueError(f"unknown roles {unknown_roles}; the roles are {sorted(ROLES)}")
    if any(not key for key in api_keys):
        raise ValueError("an API key cannot be empty")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model = _load_model(registry_dir)
        yield
        app.state.serving.close()

    # Swagger UI and ReDoc from the assets in fastapi-offline's wheel: /docs works offline
    app = FastAPIOffline(
        title="leadflow scoring API",
        summary="Conversion likelihood of inquiries, and the ranked queue of open ones.",
        lifespan=lifespan,
    )
    app.state.model = None  # until the lifespan has loaded it
    app.state.warehouse_path = warehouse_path
    app.state.serving = ServingReader(serving_home or warehouse_path.parent)
    app.state.serving_only = serving_only
    app.state.api_keys = dict(api_keys)
    app.state.publish_events = publish_events
    app.state.limits = limits
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in (score.router, leads.router):
        app.include_router(router, dependencies=[Depends(require_roles("sales"))])
    app.include_router(events.router, dependencies=[Depends(require_roles("ingest"))])
    install_error_handlers(app)
    app.add_middleware(LatencyRecorder)
    app.add_middleware(
        RequestGuard,
        role_of=lambda key: role_for_key(app.state.api_keys, key),
        body_limits={events.router.prefix: limits.events_body_bytes},
        default_body_limit=limits.body_bytes,
    )
    return app


def _load_model(registry_dir: Path) -> Scorer:
    # no model yet is a normal state of a new install: score with the flagged scorecard;
    # a model that fails verification is not, so that error stops the startup
    scorer = current_scorer(registry_dir)
    if scorer.kind == "model":
        logger.info("loaded model %s", scorer.version)
    else:
        logger.warning(
            "no model has been trained into %s: scoring with the rule-based scorecard "
            "(every score says scorer=scorecard); run `leadflow train`",
            registry_dir,
        )
    return scorer
