"""The scoring API: online scores, the ranked sales queue, and health, behind API keys."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from ingestion.contracts import DEFAULT_RULES, ContractRules, Event
from leadflow.kpis import KpiRules
from leadflow.serving import ServingReader
from leadflow.settings import DEFAULT_FOLLOW_UP_HOURS
from leadflow.users import Users
from models.scorer import Scorer, current_scorer
from scoring_api import pages
from scoring_api.auth import ACT_ON_LEADS, READ_LEADS, READ_REPORTS, RUN_SQL
from scoring_api.deps import ROLES, require_roles, role_for_key
from scoring_api.errors import install_error_handlers
from scoring_api.guard import RequestGuard
from scoring_api.metrics import LatencyRecorder
from scoring_api.pages import reports as report_pages
from scoring_api.pages import tables as table_pages
from scoring_api.routes import (
    actions,
    events,
    health,
    leads,
    metrics,
    reports,
    score,
    sql,
    team,
)
from scoring_api.saved_queries import SavedQueries
from scoring_api.sql_box import SqlBox, SqlLimits

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
    users_path: Path | None = None,
    follow_up_hours: Mapping[str, float] | None = None,
    sql_limits: SqlLimits = SqlLimits(),  # noqa: B008 - frozen, so one shared default is safe
    saved_queries_path: Path | None = None,
    kpis_path: Path | None = None,
    business_timezone: str = "Asia/Shanghai",
) -> FastAPI:
    """The API over one warehouse (read-only) and one registry; `api_keys` maps key to role.

    `publish_events` sends collected events to Kafka; without it `/v1/events` answers 503.
    `limits`: the contract's window and body sizes every request is held to.
    `serving_home`: the LEADFLOW_HOME whose published copies are read (leadflow/serving.py);
    by default the warehouse's folder. Until something is published there, the warehouse
    file itself is read, unless `serving_only` (under `leadflow run`, whose process holds
    the warehouse): then the API answers 503 until the first publication.
    `users_path`: the people who sign in (leadflow/users.py); without it only keys work.
    `follow_up_hours`: per tier, the hours a lead may wait for its first contact.
    `sql_limits`: what one ad-hoc query may take (rows, seconds, characters, memory); ad-hoc
    SQL reads only the published marts. `saved_queries_path`: where the analysts' saved
    queries are kept; by default `saved_queries.json` beside the published copies' home.
    `kpis_path`: the KPIs' targets and alert lines (leadflow/kpis.py; default: the shipped
    file); `business_timezone`: the company's zone, whose today picks the board's period.
    """
    unknown_roles = sorted(set(api_keys.values()) - ROLES)
    if unknown_roles:
        raise ValueError(f"unknown roles {unknown_roles}; the roles are {sorted(ROLES)}")
    if any(not key for key in api_keys):
        raise ValueError("an API key cannot be empty")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.model = _load_model(registry_dir)
        # what is alive now (the imports, the model) lives as long as the server: left out
        # of every later collection, whose pauses would otherwise grow with it and fall on
        # requests (the tail of POST /v1/score's latency, `leadflow bench api`)
        gc.collect()
        gc.freeze()
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
    home = serving_home or warehouse_path.parent
    app.state.serving = ServingReader(home)
    app.state.sql_box = SqlBox(home, sql_limits)
    app.state.kpi_rules = KpiRules(kpis_path)
    app.state.business_timezone = business_timezone
    app.state.saved_queries = SavedQueries(saved_queries_path or home / "saved_queries.json")
    app.state.serving_only = serving_only
    app.state.api_keys = dict(api_keys)
    app.state.publish_events = publish_events
    app.state.limits = limits
    app.state.users = Users(users_path) if users_path is not None else None
    app.state.follow_up_hours = dict(
        follow_up_hours if follow_up_hours is not None else DEFAULT_FOLLOW_UP_HOURS
    )
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(score.router, dependencies=[Depends(require_roles(*score.ROLES))])
    app.include_router(leads.router, dependencies=[Depends(require_roles(*READ_LEADS))])
    app.include_router(actions.router, dependencies=[Depends(require_roles(*ACT_ON_LEADS))])
    app.include_router(team.router, dependencies=[Depends(require_roles(*READ_LEADS))])
    app.include_router(events.router, dependencies=[Depends(require_roles("ingest"))])
    app.include_router(sql.router, dependencies=[Depends(require_roles(*RUN_SQL))])
    app.include_router(reports.router, dependencies=[Depends(require_roles(*READ_REPORTS))])
    app.include_router(pages.router)
    app.include_router(report_pages.router)
    app.include_router(table_pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.add_exception_handler(pages.SignInNeeded, _sign_in_first)
    install_error_handlers(app)
    app.add_middleware(LatencyRecorder)
    app.add_middleware(
        RequestGuard,
        role_of=lambda key: role_for_key(app.state.api_keys, key),
        session_of=lambda token: app.state.users.session(token) if app.state.users else None,
        body_limits={
            events.router.prefix: limits.events_body_bytes,
            # a query of the longest text allowed fits, so its length is refused in words
            sql.router.prefix: max(limits.body_bytes, sql_limits.body_bytes),
            f"{sql.router.prefix}/saved": max(limits.body_bytes, sql_limits.body_bytes),
            "/sql": max(limits.body_bytes, sql_limits.body_bytes),  # the page's form
        },
        default_body_limit=limits.body_bytes,
    )
    return app


async def _sign_in_first(request: Request, needed: Exception) -> Response:
    assert isinstance(needed, pages.SignInNeeded)
    return RedirectResponse("/login?" + urlencode({"next": needed.next_path}), status_code=303)


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
