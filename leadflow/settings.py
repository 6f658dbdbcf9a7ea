"""The one reader of the environment: every `LEADFLOW_*` setting, with its default."""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingestion.contracts import CURRENCY_PATTERN, EARLIEST_EVENT_AT, PATTERN_HINTS, ContractRules
from ingestion.vocabularies import Vocabularies, load_vocabularies

DEFAULT_FOLLOW_UP_HOURS = {"A": 2.0, "B": 8.0, "C": 24.0}
"""Hours from submission within which a lead of each tier must be contacted; D has none."""


def follow_up_seconds(hours: float) -> int:
    """A deadline of `hours` in whole seconds, rounded half up: the queue's filter in SQL
    (scoring_api.routes.leads.OVERDUE casts 3600 × hours to bigint, which rounds so), a
    page's rows and the breach gauge all count the same lead late."""
    return math.floor(3600 * hours + 0.5)


class Settings(BaseSettings):
    """leadflow's settings; each field is read from `LEADFLOW_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore", populate_by_name=True)

    home: Path = Field(default=Path(".leadflow"), description="where all data lives")
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port of a Kafka cluster; unset starts the embedded broker"
    )
    consumer_group: str = Field(default="leadflow-ingest", description="Kafka consumer group")
    kafka_session_timeout_ms: int = Field(
        default=10_000, description="how soon the group notices a dead consumer"
    )
    api_keys: str | None = Field(
        default=None,
        description="comma-separated KEY:ROLE pairs; unset uses keys kept in $LEADFLOW_HOME",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    seed: int = 7
    min_labelled: int = Field(
        default=300, description="labelled inquiries needed to train a model (cold start below)"
    )
    min_conversions: int = Field(
        default=30, description="conversions among them needed to train a model"
    )
    earliest_event_at: dt.datetime = Field(
        default=EARLIEST_EVENT_AT,
        description="no event may have happened before this (ISO 8601; UTC without an offset)",
    )
    max_event_ahead_hours: float = Field(
        default=24.0,
        gt=0,
        description="how far past now an event may be stamped before its clock counts as wrong",
    )
    vocabularies_file: Path | None = Field(
        default=None,
        alias="LEADFLOW_VOCABULARIES",
        description="YAML of the channels, product categories, lost reasons and countries "
        "expected, and what becomes of other values; unset: ingestion/vocabularies.yml",
    )
    bi_export_dir: Path | None = Field(
        default=None,
        alias="LEADFLOW_BI_EXPORT_DIR",
        description="a folder where each publication of the marts is also written as "
        "Parquet files and a marts.duckdb of views over them, at stable paths, for Metabase "
        "or Superset to open read-only (docs/bi-tools.md); unset: not written",
    )
    kpis_file: Path | None = Field(
        default=None,
        alias="LEADFLOW_KPIS",
        description="YAML of the KPIs on the leadership board with their targets and alert "
        "lines (read again when it changes); unset: leadflow/kpis.yml",
    )
    max_events_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="largest request body POST /v1/events reads"
    )
    max_score_body_bytes: int = Field(
        default=16 * 1024, gt=0, description="largest request body of every other API call"
    )

    transforms_dir: Path | None = Field(
        default=None,
        description="the dbt project to build (a copy of transforms/ you changed); unset: "
        "the one installed with leadflow",
    )
    build_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="`leadflow run`: seconds between two dbt builds (new inquiries are "
        "scored within seconds regardless)",
    )
    sweep_interval_s: float = Field(
        default=50.0,
        ge=1,
        description="`leadflow run`: seconds between two sweeps that rescore every open lead "
        "(for scores that move with time alone, such as no contact 48 h after submission); "
        "a sweep is paced over 30 s at most, so the default rescores each within a minute",
    )

    business_timezone: str = Field(
        default="Asia/Shanghai",
        description="the company's time zone (IANA name): every week, month, quarter and year "
        "of the marts is cut in it; the warehouse stores UTC",
    )
    currency: str = Field(
        default="CNY",
        description="the company's currency (ISO 4217): the marts' amounts are in it",
    )

    follow_up_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_FOLLOW_UP_HOURS),
        description="hours from submission within which a lead of each tier must be "
        'contacted, as JSON ({"A": 2, "B": 8, "C": 24}); a tier left out has no deadline',
    )

    sql_row_cap: int = Field(
        default=10_000,
        gt=0,
        le=1_000_000,
        description="ad-hoc SQL (POST /v1/sql, the /sql page): rows an answer carries at most; "
        "a longer result is cut there and says so (truncated)",
    )
    sql_time_limit_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="ad-hoc SQL: seconds a query may run before it is interrupted",
    )
    sql_max_chars: int = Field(
        default=20_000,
        gt=0,
        le=1_000_000,
        description="ad-hoc SQL: the longest query text accepted, in characters",
    )
    sql_memory_limit: str = Field(
        default="1GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="ad-hoc SQL: memory one query may use (DuckDB's memory_limit); past it the "
        "query stops with a clear error instead of spilling to disk",
    )
    sql_threads: int = Field(
        default=1, ge=1, le=256, description="ad-hoc SQL: threads one query may use"
    )
    sql_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="ad-hoc SQL: queries that may run at once; one more waits for a free slot "
        "up to the time limit, then is answered 503",
    )

    @field_validator("follow_up_hours")
    @classmethod
    def _tiers_and_positive_hours(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"A", "B", "C", "D"})
        if unknown:
            raise ValueError(f"tiers are A, B, C and D, not {unknown}")
        if any(hours <= 0 for hours in value.values()):
            raise ValueError("every deadline must be more than 0 hours")
        return value

    @field_validator("business_timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone; give an IANA name such as Asia/Shanghai or UTC"
            ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not re.fullmatch(CURRENCY_PATTERN, value):
            raise ValueError(f"{value!r}: {PATTERN_HINTS[CURRENCY_PATTERN]}")
        return value

    @field_validator("earliest_event_at")
    @classmethod
    def _utc_when_naive(cls, value: dt.datetime) -> dt.datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)

    @property
    def contract_rules(self) -> ContractRules:
        """The event contract's deployment settings: the window of plausible event times."""
        return ContractRules(
            earliest=self.earliest_event_at,
            max_ahead=dt.timedelta(hours=self.max_event_ahead_hours),
            vocabularies=self.vocabularies,
        )

    @property
    def vocabularies(self) -> Vocabularies:
        """The vocabularies in force (VocabularyError when the file is unusable)."""
        return load_vocabularies(self.vocabularies_file)

    @property
    def dbt_vars(self) -> dict[str, Any]:
        """The settings the dbt project reads as vars (dbt_project.yml has the same defaults,
        so `dbt build` on its own cuts periods as leadflow does)."""
        return {"business_timezone": self.business_timezone, "currency": self.currency}

    @property
    def dbt_project_dir(self) -> Path:
        """The dbt project the warehouse is built with."""
        if self.transforms_dir is not None:
            return self.transforms_dir.resolve()
        import transforms

        return Path(transforms.__file__).parent

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB warehouse file."""
        return self.home / "warehouse.duckdb"

    @property
    def archive_dir(self) -> Path:
        """The Parquet archive of every landed event, for rebuilds beyond Kafka retention."""
        return self.home / "archive"

    @property
    def registry_dir(self) -> Path:
        """Where trained models are kept."""
        return self.home / "registry"

    @property
    def saved_queries_path(self) -> Path:
        """The analysts' saved ad-hoc SQL queries (scoring_api/saved_queries.py)."""
        return self.home / "saved_queries.json"

    @property
    def users_path(self) -> Path:
        """The people who sign in to the pages (leadflow/users.py)."""
        return self.home / "users.sqlite"
