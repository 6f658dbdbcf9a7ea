"""Orchestration: each stage as a function of the settings, and the demo that runs them all."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

import transforms
from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.sink import WarehouseError, describe_storage_error, is_lock_conflict
from ingestion.warehouse import create_landing_tables
from leadflow.errors import LeadflowError
from leadflow.runs import carry_runs_over, carry_tables_over, recorded_run
from leadflow.settings import Settings

log = logging.getLogger(__name__)

TRANSFORMS_DIR = Path(transforms.__file__).parent
GATED_TABLES = ("raw_events", "stg_leadflow__rejected_values", "fct_inquiries")


class TransformError(LeadflowError, RuntimeError):
    """`dbt build` failed; the message lists the failing models and tests."""


def progress_bar(console: Console) -> Progress:
    """The progress display every long stage uses."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextlib.contextmanager
def kafka_bootstrap(settings: Settings, console: Console) -> Iterator[str]:
    """The Kafka to talk to: LEADFLOW_KAFKA_BOOTSTRAP, or an embedded broker for this run."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    with EmbeddedBroker(log_path=settings.home / "broker.log") as broker:
        console.log(f"embedded broker on {broker.bootstrap} (in-memory; stops when leadflow exits)")
        ensure_topics(broker.bootstrap)
        yield broker.bootstrap


def open_warehouse(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Connect to the DuckDB warehouse, creating it and its landing tables when writable.

    WarehouseError, one line saying what to do, when the file cannot be opened (another
    process holds it, it or its disk is read-only, the disk is full).
    """
    path = settings.warehouse_path
    if read_only and not path.exists():
        raise FileNotFoundError(
            f"no warehouse at {path}: run `leadflow demo --no-serve` or `leadflow ingest` first"
        )
    try:
        if read_only:
            return duckdb.connect(str(path), read_only=True)
        settings.home.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(str(path))
        create_landing_tables(connection)
        return connection
    except (duckdb.Error, OSError) as error:
        raise WarehouseError(
            describe_storage_error(error, f"opening the warehouse {path}")
        ) from None


def check_not_held(path: Path, doing: str) -> None:
    """Raise WarehouseError, in one line naming the holder, when another process holds the
    warehouse file; any other trouble opening it is left to the caller's own open.

    Opening it read-write (so readers count too) and closing takes milliseconds; dbt, which
    needs the file read-write, takes seconds to start and then fails with a traceback.
    """
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as error:
        if is_lock_conflict(str(error)):
            raise WarehouseError(describe_storage_error(error, doing)) from None


@contextlib.contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Translate DuckDB's and the file system's errors into a one-line WarehouseError."""
    try:
        yield
    except (duckdb.Error, OSError) as error:
        raise WarehouseError(describe_storage_error(error, doing)) from None


@contextlib.contextmanager
def kept_from_writers(path: Path) -> Iterator[None]:
    """Hold `path` open read-only, so no other process can start writing it meanwhile
    (DuckDB lets readers share a file, never with a writer); WarehouseError if one does."""
    if not path.exists():
        yield
        return
    with storage_errors(f"opening the warehouse {path}"):
        connection = duckdb.connect(str(path), read_only=True)
    with contextlib.closing(connection):
        yield


DBT_ENTRY = "from dbt.cli.main import cli; cli()"
DBT_NODE_RESULTS = frozenset(
    {"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"}
)


def require_unheld_for_dbt(warehouse: Path, command: str) -> None:
    """TransformError, in one line naming the holder, when another process holds the
    warehouse that `dbt command` is about to open."""
    try:
        check_not_held(warehouse, f"dbt {command} on the warehouse {warehouse}")
    except WarehouseError as held:
        raise TransformError(str(held)) from None


def run_dbt(
    settings: Settings,
    command: str,
    extra: tuple[str, ...] = (),
    on_node: Callable[[], None] | None = None,
    warehouse: Path | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
) -> None:
    """Run one dbt command on the warehouse, raising TransformError on failure. dbt reads
    the settings' vars (`Settings.dbt_vars`) and `dbt_vars` besides.

    dbt runs in a child process: dbt-duckdb keeps its connection open after an in-process
    run, which would lock the warehouse against the read-only gates that follow.
    """
    dbt_dir = (settings.home / "dbt").resolve()  # dbt runs in the dbt project's folder
    warehouse_path = (warehouse or settings.warehouse_path).resolve()
    doing = f"dbt {command} on the warehouse {warehouse_path}"
    require_unheld_for_dbt(warehouse_path, command)
    (dbt_dir / "target" / "run_results.json").unlink(missing_ok=True)  # never report stale
    args = [
        sys.executable,
        "-c",
        DBT_ENTRY,
        "--log-format",
        "json",
        "--no-use-colors",
        *command.split(),  # "build", or a subcommand: "source freshness"
        *_dbt_paths(settings, "target"),
        *_dbt_vars(settings, dbt_vars),
        *extra,
    ]
    # dbt's profile reads the warehouse path from this variable (transforms/profiles.yml)
    env = {
        **os.environ,
        "LEADFLOW_WAREHOUSE": str(warehouse_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    errors: list[str] = []
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                errors.append(line.strip())
                continue
            info = event.get("info", {})
            if info.get("name") in DBT_NODE_RESULTS and on_node is not None:
                on_node()
            elif info.get("level") == "error":
                errors.append(info.get("msg", ""))
    if process.returncode == 0:
        return
    held = next((e for e in errors if is_lock_conflict(e)), None)
    if held is not None:  # taken since check_not_held: dbt's traceback, told in one line
        raise TransformError(describe_storage_error(Exception(held), doing))
    raise _dbt_failed(settings, command, "target", " ".join(e for e in errors if e))


def _dbt_paths(settings: Settings, target: str) -> list[str]:
    """The project, profile, target and log folders every dbt invocation is given."""
    dbt_dir = (settings.home / "dbt").resolve()
    project = str(settings.dbt_project_dir)
    return [
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target-path",
        str(dbt_dir / target),
        "--log-path",
        str(dbt_dir / "logs"),
    ]


def _dbt_vars(settings: Settings, dbt_vars: Mapping[str, Any] | None) -> list[str]:
    """The one --vars of a dbt invocation (dbt keeps only the last one given): the settings
    the project reads, then the invocation's own."""
    return ["--vars", json.dumps({**settings.dbt_vars, **(dbt_vars or {})})]


def _dbt_failed(settings: Settings, command: str, target: str, otherwise: str) -> TransformError:
    """The error of a failed dbt command: each failed node, else `otherwise`, and the log."""
    dbt_dir = (settings.home / "dbt").resolve()
    detail = "; ".join(_dbt_failures(dbt_dir / target / "run_results.json")) or otherwise
    return TransformError(
        f"dbt {command} failed: {detail[:3000] or 'see the log'}; "
        f"full log in {dbt_dir / 'logs' / 'dbt.log'}"
    )


def _dbt_failures(run_results: Path) -> list[str]:
    """`node: message` for each failed model or test of the last dbt run."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text()).get("results", [])
    return [
        f"{r['unique_id']}: {r.get('message') or r['status']}"
        for r in results
        if r.get("status") in {"error", "fail"}
    ]


@dataclass(frozen=True)
class SourceFreshness:
    """How long ago one source system's newest event landed, against its thresholds."""

    source: str  # web_events, sales_events, logistics_events (transforms/staging/leadflow)
    status: str  # pass, warn, error (dbt's words), runtime error, or never_landed
    last_landed_at: str | None
    age_hours: float | None
    warn_after_hours: float | None
    error_after_hours: float | None


_PERIOD_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}


def freshness(
    settings: Settings, connection: duckdb.DuckDBPyConnection | None = None
) -> list[SourceFreshness]:
    """`dbt source freshness` on the warehouse: per source system, when it last landed.

    A stale source is reported, not raised: the caller decides (the CLI exits 1 on error).
    `connection`: the open warehouse of the process that owns it (`leadflow run`), where dbt
    runs in-process; without it dbt runs in a child process.
    """
    target = "target" if connection is None else "jobs"
    sources_json = (settings.home / "dbt" / target / "sources.json").resolve()
    sources_json.unlink(missing_ok=True)
    try:
        if connection is None:
            run_dbt(settings, "source freshness")
        else:
            dbt_in_process(settings, "source freshness", target=target)
    except TransformError:
        if not sources_json.exists():  # dbt failed before checking anything
            raise
    results = json.loads(sources_json.read_text())["results"]
    landed = _systems_landed(settings, connection)
    return [
        _freshness_of(result, landed) for result in sorted(results, key=lambda r: r["unique_id"])
    ]


NEVER_LANDED = "never_landed"
"""The freshness status of a source system no event has ever landed from."""


def _systems_landed(
    settings: Settings, connection: duckdb.DuckDBPyConnection | None = None
) -> set[str]:
    """The source systems (web, sales, logistics) at least one event landed from."""
    cursor = open_warehouse(settings, read_only=True) if connection is None else connection.cursor()
    with contextlib.closing(cursor):
        rows = cursor.execute("select distinct source from raw_events").fetchall()
        return {row[0] for row in rows}


def _freshness_of(result: dict[str, Any], landed: set[str]) -> SourceFreshness:
    criteria = result.get("criteria") or {}
    source = result["unique_id"].rsplit(".", 1)[-1]

    def hours(threshold: dict[str, Any] | None) -> float | None:
        if not threshold or threshold.get("count") is None:
            return None
        return float(threshold["count"]) * _PERIOD_HOURS[threshold["period"]]

    age = result.get("max_loaded_at_time_ago_in_s")
    if source.removesuffix("_events") not in landed:
        # dbt measures the age of nothing from the year 1; there is no age to judge
        status, last_landed_at, age = NEVER_LANDED, None, None
    else:
        status, last_landed_at = result["status"], result.get("max_loaded_at")
    return SourceFreshness(
        source=source,
        status=status,
        last_landed_at=last_landed_at,
        age_hours=round(age / 3600, 2) if age is not None else None,
        warn_after_hours=hours(criteria.get("warn_after")),
        error_after_hours=hours(criteria.get("error_after")),
    )


DOCS_FILES = ("index.html", "static_index.html", "manifest.json", "catalog.json")


def generate_docs(settings: Settings) -> Path:
    """`dbt docs generate` on the warehouse; returns the folder of the docs site.

    The catalog (column types, row counts) is read from the warehouse, so build it first
    (`leadflow transform`). The folder holds index.html with manifest.json and catalog.json
    (to serve) and static_index.html (everything in one file, to open or send).
    """
    if not settings.warehouse_path.exists():
        raise TransformError(
            f"no warehouse at {settings.warehouse_path}: the docs describe a built warehouse; "
            "run `leadflow demo --no-serve` or `leadflow transform` first"
        )
    run_dbt(settings, "docs generate", ("--static",))
    target = settings.home / "dbt" / "target"
    site = settings.home / "docs"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in DOCS_FILES:
        shutil.copy2(target / name, site / name)
    return site


def transform(
    settings: Settings,
    console: Console,
    warehouse: Path | None = None,
    *,
    full_refresh: bool = False,
) -> None:
    """Build staging, identity and marts with `dbt build` (models and their tests).

    Incremental models take only the events landed since their last run, unless
    `full_refresh` rebuilds every model from the whole log.
    """
    target = warehouse or settings.warehouse_path
    with recorded_run(target, "transform") as details:
        # run_dbt checks too; this is before the progress bar, so a held file is one line
        require_unheld_for_dbt(target.resolve(), "build")
        with progress_bar(console) as progress:
            task = progress.add_task("transform", total=None)
            run_dbt(
                settings,
                "build",
                ("--full-refresh",) if full_refresh else (),
                on_node=lambda: progress.advance(task),
                warehouse=warehouse,
            )
            details["nodes"] = int(progress.tasks[task].completed)
            details["full_refresh"] = full_refresh


def rebuild(settings: Settings, console: Console) -> dict[str, int]:
    """Recreate the warehouse from the Parquet archive alone (no broker), then swap it in.

    The old file is kept as `warehouse.duckdb.previous` until the next rebuild.
    """
    from ingestion.archive import restore_landing_tables

    fresh = settings.home / "warehouse.rebuild.duckdb"
    fresh.unlink(missing_ok=True)
    with (
        recorded_run(settings.warehouse_path, "rebuild") as details,
        storage_errors(f"rebuilding the warehouse {settings.warehouse_path}"),
        # a writer that came in now would write on into the file swapped out at the end
        kept_from_writers(settings.warehouse_path),
    ):
        with contextlib.closing(duckdb.connect(str(fresh))) as connection:
            restored = restore_landing_tables(
                connection, settings.archive_dir, settings.consumer_group
            )
        console.log(
            f"restored {restored.events:,} events and {restored.quarantined:,} quarantined "
            f"from {restored.archived_copies:,} archived rows"
        )
        for skipped in restored.skipped_files:
            console.log(f"[yellow]skipped {skipped}: empty or not a whole Parquet file[/]")
        # snapshots record history run by run, which no replay of the log gives back
        snapshots = sorted(
            path.stem for path in (settings.dbt_project_dir / "snapshots").glob("*.sql")
        )
        carried = carry_tables_over(settings.warehouse_path, fresh, snapshots)
        if carried:
            console.log(f"kept the history of the snapshots {', '.join(carried)}")
        transform(settings, console, warehouse=fresh, full_refresh=True)
        carry_runs_over(settings.warehouse_path, fresh)
        if settings.warehouse_path.exists():
            os.replace(settings.warehouse_path, settings.home / "warehouse.duckdb.previous")
        os.replace(fresh, settings.warehouse_path)
        details.update(events=restored.events, quarantined=restored.quarantined)
    return {
        "events": restored.events,
        "quarantined": restored.quarantined,
        "skipped_files": len(restored.skipped_files),
    }


def check(settings: Settings, tables: tuple[str, ...] = GATED_TABLES) -> list[Any]:
    """Run the Great Expectations gates; raises QualityGateFailed naming what failed.

    When every gate of the whole set passed, the marts are published for readers
    (leadflow/serving.py): only a gated state is ever published."""
    from leadflow.serving import publish_marts

    with (
        recorded_run(settings.warehouse_path, "check") as details,
        contextlib.closing(open_warehouse(settings, read_only=True)) as connection,
    ):
        from quality.gates import check_tables, raise_on_failure  # after: GX takes seconds

        results = check_tables(connection, list(tables), settings.vocabularies)
        details["tables"] = list(tables)
        details["not_measured"] = _not_measured(results)
        raise_on_failure(results)
    if set(tables) >= set(GATED_TABLES):
        with contextlib.closing(open_warehouse(settings)) as connection:
            publish_marts(connection, settings.home, state={"published_by": "check"})
        export_for_bi(settings)
    return results


def export_for_bi(settings: Settings) -> None:
    """The published marts at stable paths for BI tools, when LEADFLOW_BI_EXPORT_DIR is
    set. A failure is logged, never the build's: readers of leadflow have their state."""
    from leadflow.serving import export_marts

    if settings.bi_export_dir is None:
        return
    try:
        tables = export_marts(settings.home, settings.bi_export_dir)
    except (OSError, duckdb.Error) as error:
        log.error("could not write the marts for BI tools to %s: %s", settings.bi_export_dir, error)
        return
    log.info("wrote %d marts for BI tools to %s", len(tables), settings.bi_export_dir)


def _not_measured(results: list[Any]) -> dict[str, list[str]]:
    """Per table, the checks its gate passed over because the data cannot support them yet
    (shown by `status`: a new deployment's gate is not the whole gate)."""
    return {r.table: list(r.not_measured) for r in results if r.not_measured}


@dataclass(frozen=True)
class DemoSummary:
    """The reconciled figures of one demo run; printed as the demo's last line."""

    events_produced: int
    events_landed: int
    events_quarantined: int
    duplicates_absorbed: int
    customers: int
    inquiries: int
    open_inquiries_scored: int
    model_version: str
    model_auc: float
    best_achievable_auc: float
    auc_ratio: float
    baseline_auc: float
    ece: float
    seconds: float
    events_held_for_live_feed: int = 0


DEMO_YEARS = 2.0


def history_start(years: float = DEMO_YEARS) -> dt.date:
    """The first day of a simulated history that ends today (UTC), so its queue is live."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=round(years * 365))


FUTURE_EVENTS = "events.future.jsonl"


def run_demo(settings: Settings, console: Console, *, feed_days: float = 0.0) -> DemoSummary:
    """Simulate → produce → ingest → dbt build → quality gates → train → score, from scratch.

    The history ends today. With `feed_days`, the simulation goes on that many days beyond
    today; those events are held in $LEADFLOW_HOME/events.future.jsonl for the live feed
    (ingestion/feeder.py) instead of being produced now.
    """
    from ingestion.consumer import ingest
    from ingestion.feeder import split_at
    from ingestion.producer import produce_file
    from ingestion.simulator import estimate_events, simulate
    from leadflow.serving import publish_queue
    from models.batch import score_open_inquiries
    from models.clock import scoring_clock
    from models.scorer import current_scorer
    from models.train import train

    started = time.monotonic()
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    events_path, truth_path = home / "events.jsonl", home / "truth.csv"
    # The embedded broker's log lives in memory only, so the warehouse (a projection of
    # that log) is rebuilt from scratch too; otherwise stored offsets would not match.
    # Not while another process has it open: it would go on with the deleted file.
    check_not_held(settings.warehouse_path, "starting the demo afresh")
    for stale in (settings.warehouse_path, settings.warehouse_path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(settings.archive_dir, ignore_errors=True)
    shutil.rmtree(home / "serving", ignore_errors=True)  # copies of the warehouse replaced

    years = DEMO_YEARS + feed_days / 365
    simulated_path = home / "events.simulated.jsonl" if feed_days else events_path
    with progress_bar(console) as progress:
        task = progress.add_task("simulate", total=estimate_events(years, 7000))
        simulated = simulate(
            simulated_path,
            truth_path,
            seed=settings.seed,
            years=years,
            start=history_start(),
            progress=lambda n: progress.advance(task, n),
        )
        progress.update(task, total=simulated.events_written, completed=simulated.events_written)
    held = 0
    if feed_days:
        now = dt.datetime.now(dt.UTC)
        held = split_at(simulated_path, events_path, home / FUTURE_EVENTS, now)
        simulated_path.unlink()

    with kafka_bootstrap(settings, console) as bootstrap:
        with progress_bar(console) as progress:
            task = progress.add_task("produce", total=simulated.events_written - held)
            produced = produce_file(bootstrap, events_path, lambda n: progress.advance(task, n))
        with (
            recorded_run(settings.warehouse_path, "ingest") as details,
            contextlib.closing(open_warehouse(settings)) as connection,
            progress_bar(console) as progress,
        ):
            task = progress.add_task("ingest", total=produced.sent)
            ingested = ingest(
                bootstrap,
                connection,
                group_id=settings.consumer_group,
                until_idle=True,
                progress=lambda n: progress.advance(task, n),
                archive_dir=settings.archive_dir,
                rules=settings.contract_rules,
            )
            details.update(dataclasses.asdict(ingested))

    transform(settings, console, full_refresh=True)
    check(settings)
    with contextlib.closing(open_warehouse(settings)) as connection:
        console.log("training the conversion model")
        with recorded_run(settings.warehouse_path, "train") as details:
            report = train(
                connection,
                settings.registry_dir,
                truth_path=truth_path,
                min_labelled=settings.min_labelled,
                min_conversions=settings.min_conversions,
            )
            details.update(version=report.version, auc=report.auc)
        scorer = current_scorer(settings.registry_dir)
        with recorded_run(settings.warehouse_path, "score") as details:
            # the simulated log ends when the simulation does: scored as of its newest
            # event unless that is within the week (models/clock.py)
            now = dt.datetime.now(dt.UTC)
            clock = scoring_clock(connection, now)
            result = score_open_inquiries(connection, scorer, scored_at=now, as_of=clock.as_of)
            details.update({**dataclasses.asdict(result), **clock.describe()})
        publish_queue(connection, settings.home)
        scored = result.scored
        customers, inquiries = connection.execute(
            "select (select count(*) from dim_customers), (select count(*) from fct_inquiries)"
        ).fetchone()
    return DemoSummary(
        events_produced=produced.sent,
        events_landed=ingested.landed,
        events_quarantined=ingested.quarantined,
        duplicates_absorbed=ingested.duplicates,
        customers=customers,
        inquiries=inquiries,
        open_inquiries_scored=scored,
        model_version=report.version,
        model_auc=round(report.auc, 4),
        best_achievable_auc=round(report.best_achievable_auc, 4),
        auc_ratio=round(report.metrics["auc_ratio"], 4),
        baseline_auc=round(report.metrics["baseline_auc"], 4),
        ece=round(report.metrics["ece"], 4),
        seconds=round(time.monotonic() - started, 1),
        events_held_for_live_feed=held,
    )


# --- the stages as `leadflow run` composes them, in the one process owning the warehouse --

_DBT_IN_PROCESS = threading.Lock()  # dbt's invocations share process-wide state


def dbt_in_process(
    settings: Settings,
    command: str,
    extra: tuple[str, ...] = (),
    *,
    target: str = "target",
    dbt_vars: Mapping[str, Any] | None = None,
) -> Any:
    """Run one dbt command in this process (sharing its open DuckDB database), with the
    settings' vars and `dbt_vars`; returns dbt's result, or raises TransformError naming
    what failed.

    Only for the process that owns the warehouse (`leadflow run`): dbt-duckdb's connection
    joins this process's open database, so landing and reading go on while dbt builds.
    Other commands run dbt in a child process (`run_dbt`).
    """
    from dbt.cli.main import dbtRunner

    dbt_dir = (settings.home / "dbt").resolve()
    os.environ["LEADFLOW_WAREHOUSE"] = str(settings.warehouse_path.resolve())
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    args = [
        *command.split(),
        *_dbt_paths(settings, target),
        *_dbt_vars(settings, dbt_vars),
        "--quiet",
        *extra,
    ]
    with _DBT_IN_PROCESS:
        (dbt_dir / target / "run_results.json").unlink(missing_ok=True)
        # dbt prints what `compile` compiled to stdout, whatever --quiet says; the service's
        # stdout is for results
        with contextlib.redirect_stdout(io.StringIO()):
            outcome = dbtRunner().invoke(args)
    if outcome.success:
        return outcome.result
    exception = str(outcome.exception or "").strip().splitlines()
    raise _dbt_failed(settings, command, target, exception[0] if exception else "")


SERVICE_DBT_THREADS = 1
"""How many models a build of `leadflow run` runs at once."""


def build_cycle(
    settings: Settings, connection: duckdb.DuckDBPyConnection, console: Console
) -> dict[str, Any]:
    """One build of `leadflow run`: dbt build (incremental), the quality gates, and, only
    when both passed, the marts published for readers. Raises on a failed build or gate,
    which leaves readers on the last published state."""
    from leadflow.serving import publish_marts
    from quality.gates import check_tables, raise_on_failure

    started = time.monotonic()
    # every model of this build reads the events committed now, however many land meanwhile
    # (one consumer commits its batches in landing order, so none landed before it is
    # still in flight)
    with contextlib.closing(connection.cursor()) as cursor:
        through = cursor.execute("select max(ingested_at) from raw_events").fetchone()[0]
    # one model at a time: the build is background work here, next to the live ticks and the
    # API that share the process's database and cores (the batch `transform` runs two).
    # Without dbt's unit tests: they check the models' SQL on fixed inputs, not the data, so
    # they belong to `leadflow transform`, `make test` and CI (as dbt advises), not to every
    # cycle, where they were a fifth of a build
    extra: tuple[str, ...] = (
        "--threads", str(SERVICE_DBT_THREADS), "--exclude-resource-type", "unit_test",
    )  # fmt: skip
    landed = {} if through is None else {"leadflow_landed_through": through.isoformat(sep=" ")}
    with recorded_run(settings.warehouse_path, "transform") as details:
        dbt_in_process(settings, "build", extra, dbt_vars=landed)
        details.update(in_service=True, landed_through=str(through))
    built = time.monotonic()
    cursor = connection.cursor()
    try:
        with recorded_run(settings.warehouse_path, "check") as details:
            results = check_tables(cursor, list(GATED_TABLES), settings.vocabularies)
            details["tables"] = list(GATED_TABLES)
            details["not_measured"] = _not_measured(results)
            raise_on_failure(results)
        gated = time.monotonic()
        events, newest = cursor.execute(
            "select count(*), max(ingested_at) from raw_events"
        ).fetchone()
        state = {"events": events, "newest_landed_at": str(newest) if newest else None}
        publish_marts(cursor, settings.home, state=state)
    finally:
        cursor.close()
    export_for_bi(settings)
    published = time.monotonic()
    return {
        "landed_through": through,
        "build_s": round(built - started, 2),
        "gates_s": round(gated - built, 2),
        "publish_s": round(published - gated, 2),
        "events": events,
        "not_measured": _not_measured(results),
    }
