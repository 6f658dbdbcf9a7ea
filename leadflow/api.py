"""The API app as `leadflow serve` and `leadflow run` configure it from the settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from leadflow.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ingestion.contracts import Event


def api_keys(config: Settings) -> dict[str, str]:
    """LEADFLOW_API_KEYS, or the keys kept in $LEADFLOW_HOME (made on first use)."""
    from leadflow.keys import local_api_keys, parse_api_keys

    return parse_api_keys(config.api_keys) if config.api_keys else local_api_keys(config.home)


def make_api(
    config: Settings, bootstrap: str | None = None, *, in_service: bool = False
) -> FastAPI:
    """The API over the settings' home; `/v1/events` publishes to `bootstrap` (default:
    LEADFLOW_KAFKA_BOOTSTRAP; without one it answers 503). `in_service`: inside `leadflow
    run`, which holds the warehouse: read only what it publishes."""
    from scoring_api.main import RequestLimits, create_app
    from scoring_api.sql_box import SqlLimits

    bootstrap = bootstrap or config.kafka_bootstrap
    publish: Callable[[Sequence[Event]], None] | None = None
    producer: Any = None
    if bootstrap:
        from ingestion.producer import make_producer, publish_events

        producer = make_producer(bootstrap)

        def publish(events: Sequence[Event]) -> None:
            publish_events(producer, events)

    app = create_app(
        warehouse_path=config.warehouse_path,
        registry_dir=config.registry_dir,
        api_keys=api_keys(config),
        publish_events=publish,
        limits=RequestLimits(
            rules=config.contract_rules,
            events_body_bytes=config.max_events_body_bytes,
            body_bytes=config.max_score_body_bytes,
        ),
        serving_home=config.home,
        serving_only=in_service,
        users_path=config.users_path,
        follow_up_hours=config.follow_up_hours,
        sql_limits=SqlLimits(
            row_cap=config.sql_row_cap,
            time_limit_s=config.sql_time_limit_s,
            max_chars=config.sql_max_chars,
            memory_limit=config.sql_memory_limit,
            threads=config.sql_threads,
            concurrency=config.sql_concurrency,
        ),
        saved_queries_path=config.saved_queries_path,
        kpis_path=config.kpis_file,
        business_timezone=config.business_timezone,
    )
    return app
