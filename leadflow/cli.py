"""The `leadflow` command line: one verb per stage, and `demo` for all of them."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from leadflow.errors import LeadflowError
from leadflow.logs import configure_logging
from leadflow.settings import Settings

if TYPE_CHECKING:
    pass

app = typer.Typer(
    name="leadflow",
    help="Event-sourced lead scoring: simulate → Kafka → DuckDB → dbt → model → API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)  # results: one JSON object per line on stdout
err = Console(stderr=True)  # progress, logs and errors


def emit(record: dict[str, Any]) -> None:
    """Print one result as a single JSON line on stdout."""
    out.print(json.dumps(record, default=str), markup=False, highlight=False)


@contextlib.contextmanager
def product_errors() -> Iterator[None]:
    """Turn the product's own errors into a message and exit code 1.

    The message is printed unwrapped, so a one-line error stays one line on any terminal
    (and in a log that greps it).
    """
    try:
        yield
    except (LeadflowError, FileNotFoundError) as error:
        text = escape(str(error))  # a message may hold [brackets]; they are not markup
        err.print(f"[bold red]error:[/] {text}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def settings() -> Settings:
    """Settings from the environment (logging set up on the way); a value that is wrong
    stops the command with one line naming its variable."""
    configure_logging()
    try:
        return Settings()
    except ValidationError as invalid:
        text = escape("; ".join(_setting_problem(error) for error in invalid.errors()))
        err.print(f"[bold red]error:[/] {text}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _setting_problem(error: Any) -> str:
    """`LEADFLOW_NAME: what is wrong` of one of pydantic's validation errors."""
    name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
    variable = name if name.startswith("LEADFLOW_") else f"LEADFLOW_{name}"
    return f"{variable}: {str(error['msg']).removeprefix('Value error, ')}"


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@app.command()
def simulate(
    out_path: Annotated[Path, typer.Option("--out", help="JSON Lines file of events")] = Path(
        "events.jsonl"
    ),
    truth: Annotated[
        Path, typer.Option(help="CSV of each inquiry's true conversion probability")
    ] = Path("truth.csv"),
    seed: Annotated[int, typer.Option(help="same seed, same events")] = 7,
    years: Annotated[float, typer.Option(help="years of history")] = 2.0,
    inquiries_per_year: Annotated[int, typer.Option(help="inquiries per year")] = 7000,
) -> None:
    """Write realistic events for a company like yy (and, apart, the true probabilities)."""
    from ingestion.simulator import estimate_events
    from ingestion.simulator import simulate as run_simulation
    from leadflow.pipeline import progress_bar

    with progress_bar(err) as progress:
        task = progress.add_task("simulate", total=estimate_events(years, inquiries_per_year))
        report = run_simulation(
            out_path,
            truth,
            seed=seed,
            years=years,
            inquiries_per_year=inquiries_per_year,
            progress=lambda n: progress.advance(task, n),
        )
        progress.update(task, total=report.events_written, completed=report.events_written)
    emit({"events": str(out_path), "truth": str(truth), **dataclasses.asdict(report)})


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 picks a free one)")] = 9092,
) -> None:
    """Run the embedded Kafka-protocol broker in the foreground and print its address."""
    from ingestion.broker import EmbeddedBroker, ensure_topics

    with product_errors(), EmbeddedBroker(port=port or None) as embedded:
        ensure_topics(embedded.bootstrap)
        emit({"bootstrap": embedded.bootstrap})
        err.print(
            f"export LEADFLOW_KAFKA_BOOTSTRAP={embedded.bootstrap}   # in other terminals; "
            "Ctrl-C stops the broker (its log is in memory only)"
        )
        stop = _stop_on_signal()
        while not stop.wait(0.5):
            if embedded.process is None or embedded.process.poll() is not None:
                err.print("[bold red]error:[/] the broker exited")
                raise typer.Exit(1)


def _warn_if_ephemeral(config: Settings) -> None:
    if not config.kafka_bootstrap:
        err.print(
            "[yellow]LEADFLOW_KAFKA_BOOTSTRAP is unset: using an embedded broker that lives "
            "only as long as this command. Run `leadflow broker` and export its address to "
            "keep a log.[/]"
        )


@app.command()
def produce(file: Annotated[Path, typer.Argument(help="JSON Lines file of events")]) -> None:
    """Publish events to leadflow.web / .sales / .logistics, keyed by their entity."""
    from ingestion.producer import produce_file
    from leadflow.pipeline import kafka_bootstrap, progress_bar

    config = settings()
    _warn_if_ephemeral(config)
    if not file.is_file():
        err.print(f"[bold red]error:[/] no such file: {file}")
        raise typer.Exit(2)
    with product_errors(), kafka_bootstrap(config, err) as bootstrap, progress_bar(err) as progress:
        task = progress.add_task("produce", total=sum(1 for _ in file.open("rb")))
        report = produce_file(bootstrap, file, lambda n: progress.advance(task, n))
    emit({"bootstrap": bootstrap, **dataclasses.asdict(report)})


@app.command("ingest")
def ingest_command(
    until_idle: Annotated[bool, typer.Option(help="exit once caught up with the topics")] = False,
    idle_seconds: Annotated[float, typer.Option(help="quiet time that counts as caught up")] = 2.0,
    consumers: Annotated[int, typer.Option(help="consumers in the group (≤ partitions)")] = 1,
) -> None:
    """Consume the source topics and land valid events in raw_events, bad ones in quarantine."""
    from ingestion.consumer import ingest
    from leadflow.pipeline import kafka_bootstrap, open_warehouse, progress_bar
    from leadflow.runs import recorded_run

    config = settings()
    _warn_if_ephemeral(config)
    stop = _stop_on_signal()
    with (
        product_errors(),
        kafka_bootstrap(config, err) as bootstrap,
        recorded_run(config.warehouse_path, "ingest") as details,
        contextlib.closing(open_warehouse(config)) as connection,
        progress_bar(err) as progress,
    ):
        task = progress.add_task("ingest", total=None)
        report = ingest(
            bootstrap,
            connection,
            group_id=config.consumer_group,
            until_idle=until_idle,
            idle_seconds=idle_seconds,
            progress=lambda n: progress.advance(task, n),
            stop=stop,
            archive_dir=config.archive_dir,
            consumers=consumers,
            session_timeout_ms=config.kafka_session_timeout_ms,
            rules=config.contract_rules,
        )
        details.update(dataclasses.asdict(report))
    emit(dataclasses.asdict(report))


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (with header) or JSON-lines export")],
    source: Annotated[str, typer.Option(help="system it comes from: crm, wms or web")],
    mapping: Annotated[Path, typer.Option(help="YAML mapping of columns to event fields")],
    dry_run: Annotated[bool, typer.Option(help="map and report, publish nothing")] = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="the export's text encoding, e.g. gbk (default: UTF-8, else GB18030)"),
    ] = None,
) -> None:
    """Turn an export into contract events (stable ids: re-importing adds nothing), publish.

    Exit codes: 0 every row became an event; 3 some rows were rejected (each is listed with
    its line, column and value; the others were published); 1 the file as a whole could not
    be imported (encoding, a column the mapping needs, no rows), and nothing was published.
    """
    from ingestion.importer import Mapping, map_rows
    from ingestion.producer import make_producer, publish_events
    from leadflow.pipeline import kafka_bootstrap

    config = settings()
    with product_errors(), _landed_versions(config) as landed:
        result = map_rows(
            file,
            Mapping.load(mapping),
            source,
            config.contract_rules,
            encoding=encoding,
            landed_versions=landed,
        )
        if result.encoding != "utf-8":
            err.print(f"read {file} as {result.encoding}", highlight=False)
        published = 0
        if result.events and not dry_run:
            _warn_if_ephemeral(config)
            with kafka_bootstrap(config, err) as bootstrap:
                producer = make_producer(bootstrap)
                try:
                    published = publish_events(producer, result.events)
                finally:
                    producer.close()
    for correction in result.corrections[:20]:
        err.print(
            f"[cyan]line {correction.line}:[/] corrects event {correction.replaces} "
            f"({'; '.join(correction.differences)}): lands as {correction.event_id}, "
            "which supersedes it",
            highlight=False,
        )
    for rejected in result.rejected[:20]:
        err.print(f"[yellow]line {rejected.line}:[/] {rejected.reason}", highlight=False)
    if len(result.rejected) > 20:
        err.print(f"… and {len(result.rejected) - 20} more rejected rows (all in the JSON)")
    emit(
        {
            "rows": result.rows,
            "events": len(result.events),
            "published": published,
            "corrections": len(result.corrections),
            "rejected": len(result.rejected),
            "encoding": result.encoding,
            "rejected_rows": [r.__dict__ for r in result.rejected],
            "corrected_rows": [dataclasses.asdict(c) for c in result.corrections],
        }
    )
    if result.rejected:
        raise typer.Exit(3)


@contextlib.contextmanager
def _landed_versions(config: Settings) -> Iterator[Any]:
    """What landed of given event_ids, read from the warehouse, to find corrections; None
    (no corrections found, the consumer keeps them as conflicts) when it cannot be read."""
    import duckdb

    from ingestion.importer import landed_versions_in
    from ingestion.sink import describe_storage_error

    if not config.warehouse_path.exists():
        yield None
        return
    try:
        connection = duckdb.connect(str(config.warehouse_path), read_only=True)
    except duckdb.Error as error:
        why = describe_storage_error(error, "reading the warehouse")
        err.print(
            f"warning: {why}; meanwhile corrections of rows imported before are not "
            "recognised: the consumer will keep them as conflicting duplicates",
            style="yellow",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        yield None
        return
    with contextlib.closing(connection):
        yield landed_versions_in(connection)


@app.command()
def transform(
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="rebuild every model from the whole event log, not just new events",
        ),
    ] = False,
) -> None:
    """Build staging, the identity graph and the marts with `dbt build` (models + tests);
    incremental models take only the events landed since their last run."""
    from leadflow.pipeline import transform as run_transform

    with product_errors():
        run_transform(settings(), err, full_refresh=full_refresh)
    emit({"transform": "ok", "full_refresh": full_refresh})


@app.command()
def check(
    tables: Annotated[
        list[str] | None, typer.Argument(help="tables to gate (default: all)")
    ] = None,
) -> None:
    """Run the Great Expectations gates; exits 1 naming each failed expectation."""
    from leadflow.pipeline import GATED_TABLES
    from leadflow.pipeline import check as run_check

    with product_errors():
        results = run_check(settings(), tuple(tables or GATED_TABLES))
    warned = [result for result in results if result.warnings]
    for result in warned:
        err.print(result.describe(), style="yellow", markup=False, highlight=False)
    for result in results:
        for what in result.not_measured:
            err.print(f"not measured yet: {result.table}: {what}", markup=False, highlight=False)
    emit(
        {
            "checked": [result.table for result in results],
            "success": True,
            # rows behind each warning, e.g. events left out of staging for a value that
            # does not cast
            "warnings": {
                result.table: sum(w.unexpected_count or 1 for w in result.warnings)
                for result in warned
            },
            # checks the data cannot support yet, e.g. a conversion band before enough
            # labels matured: passed over, not passed
            "not_measured": {
                result.table: list(result.not_measured) for result in results if result.not_measured
            },
        }
    )


@app.command("freshness")
def freshness_command() -> None:
    """When each source system (web, sales, logistics) last landed, against its thresholds
    (dbt source freshness); exits 1 when one is past its error threshold."""
    from leadflow.pipeline import NEVER_LANDED, freshness

    with product_errors():
        results = freshness(settings())
    for result in results:
        if result.status == NEVER_LANDED:
            system = result.source.removesuffix("_events")
            err.print(
                f"[yellow]no events ever landed from {system}[/] (nothing to be late: if "
                f"this deployment has a {system} system, check its producer or import)",
                markup=True,
                highlight=False,
            )
        elif result.status != "pass":
            err.print(
                f"[bold yellow]{result.status}:[/] {result.source} last landed "
                f"{result.age_hours} h ago (warn after {result.warn_after_hours} h, "
                f"error after {result.error_after_hours} h)",
                markup=True,
                highlight=False,
            )
    emit({"freshness": [dataclasses.asdict(result) for result in results]})
    if any(result.status not in {"pass", "warn", NEVER_LANDED} for result in results):
        raise typer.Exit(1)


AS_OF_HELP = (
    "a moment of the log (2024-06-30, or 2024-06-30T18:00, UTC unless a zone is given) "
    "to work as of, for a backtest"
)


def _as_of(value: str | None) -> dt.datetime | None:
    from models.clock import parse_moment

    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--as-of") from None


@app.command()
def train(
    truth: Annotated[
        Path | None, typer.Option(help="simulator truth CSV, to report the best achievable AUC")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help=AS_OF_HELP + ": learn only from outcomes known then; never promoted",
        ),
    ] = None,
) -> None:
    """Train the conversion model on labelled inquiries; it becomes champion if it beats
    the current one. Refuses, saying why, below LEADFLOW_MIN_LABELLED / _MIN_CONVERSIONS."""
    from leadflow.pipeline import open_warehouse
    from leadflow.runs import recorded_run
    from models.train import train as run_training

    moment = _as_of(as_of)
    config = settings()
    truth_path = truth or (config.home / "truth.csv")
    with (
        product_errors(),
        recorded_run(config.warehouse_path, "train") as details,
        contextlib.closing(open_warehouse(config)) as connection,
    ):
        report = run_training(
            connection,
            config.registry_dir,
            truth_path=truth_path if truth_path.exists() else None,
            min_labelled=config.min_labelled,
            min_conversions=config.min_conversions,
            as_of=moment,
        )
        details.update(version=report.version, auc=report.auc)
    emit(report.summary())


@app.command()
def score(
    everything: Annotated[
        bool, typer.Option("--all", help="rescore every open inquiry, changed or not")
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help=AS_OF_HELP + ": score the inquiries open then into lead_score_backtests "
            "(the sales queue is not touched) and say how they fared",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="with --as-of: the model version to backtest (default: the newest "
            "trained on what was known then, see `leadflow train --as-of`)"
        ),
    ] = None,
) -> None:
    """Score open inquiries with new events into lead_scores (history in lead_score_history),
    with the champion model, or the rule-based scorecard while there is none. They are
    scored as they stand now, or, for a log whose newest event is over a week old (a
    historical import), as they stood at that event."""
    from leadflow.pipeline import open_warehouse
    from leadflow.runs import recorded_run
    from leadflow.serving import publish_queue
    from models.batch import score_open_inquiries
    from models.clock import scoring_clock
    from models.scorer import current_scorer

    moment = _as_of(as_of)
    if model is not None and moment is None:
        raise typer.BadParameter("--model goes with --as-of (a backtest)", param_hint="--model")
    config = settings()
    now = dt.datetime.now(dt.UTC)
    with (
        product_errors(),
        recorded_run(config.warehouse_path, "score") as details,
        contextlib.closing(open_warehouse(config)) as connection,
    ):
        if moment is not None:
            from models.backtest import backtest_scorer, score_as_of

            scorer, warning = backtest_scorer(config.registry_dir, moment, version=model)
            if warning:
                err.print(f"[yellow]{warning}[/yellow]", markup=True, highlight=False)
            backtest = score_as_of(connection, scorer, as_of=moment, scored_at=now)
            details.update(backtest.summary())
            emit(backtest.summary())
            return
        scorer = current_scorer(config.registry_dir)
        if scorer.kind != "model":
            err.print(f"[yellow]{_why_scorecard(config.registry_dir)}[/yellow]")
        clock = scoring_clock(connection, now)
        if clock.source == "log":
            err.print(
                f"[yellow]the log's newest event is {clock.as_of:%Y-%m-%d %H:%M} UTC, over "
                "a week ago (a historical import?): scoring the inquiries open then as they "
                "stood then[/yellow]",
                markup=True,
                highlight=False,
            )
        result = score_open_inquiries(
            connection, scorer, scored_at=now, as_of=clock.as_of, everything=everything
        )
        publish_queue(connection, config.home)  # for readers (leadflow/serving.py)
        report = {**dataclasses.asdict(result), **clock.describe()}
        details.update(report)
    emit(report)


def _why_scorecard(registry_dir: Path) -> str:
    """Why scoring falls back to the scorecard: no model yet, or none made champion."""
    from models.registry import CHALLENGER_FILE, alias

    challenger = alias(registry_dir, CHALLENGER_FILE)
    if challenger is None:
        return (
            "no model is trained yet: scoring with the rule-based scorecard "
            "(scorer=scorecard in every score); see `leadflow train`"
        )
    return (
        f"no champion model: {challenger} was kept as challenger (see its card: `leadflow "
        f"model show {challenger}`); scoring with the rule-based scorecard until a model "
        f"is promoted (`leadflow model promote {challenger}`, knowingly)"
    )


@app.command()
def status() -> None:
    """Lag per topic and partition, events landed/quarantined in the last hour, last runs."""
    from rich.table import Table

    from leadflow.pipeline import open_warehouse
    from leadflow.runs import journal_path
    from leadflow.service import read_run_state
    from leadflow.status import read_status

    config = settings()
    journal = journal_path(config.warehouse_path)
    service = read_run_state(config.home)
    if service is not None and service["running"]:
        _print_service(service)
        emit({"service": service})
        return
    with product_errors(), contextlib.closing(open_warehouse(config, read_only=True)) as db:
        report = read_status(db, config.consumer_group, config.kafka_bootstrap, journal)
    table = Table(title=f"consumer group {config.consumer_group} on {config.kafka_bootstrap}")
    for column in ("topic", "partition", "end offset", "landed offset", "lag"):
        table.add_column(column, justify="right" if column != "topic" else "left")
    for lag in report["partitions"]:
        end, behind = lag["end_offset"], lag["lag"]
        table.add_row(
            lag["topic"],
            str(lag["partition"]),
            "?" if end is None else f"{end:,}",
            f"{lag['landed_offset']:,}",
            "?" if behind is None else f"{behind:,}",
        )
    err.print(table)
    if not config.kafka_bootstrap:
        err.print("[yellow]LEADFLOW_KAFKA_BOOTSTRAP is unset: broker end offsets are unknown[/]")
    emit(report)


def _print_service(service: dict[str, Any]) -> None:
    """The running `leadflow run`: each part, the lag, what readers read now."""
    from rich.table import Table

    table = Table(title=f"leadflow run (pid {service['pid']}) since {service['started_at']}")
    for column in ("part", "state", "last cycle", "seconds", "restarts", "last error"):
        table.add_column(column)
    for name, part in service["parts"].items():
        error = part["last_error"] or ""
        if error and part["last_error_at"]:
            error = f"{part['last_error_at']}: {error}"
        table.add_row(
            name,
            part["state"],
            part["last_cycle_at"] or "-",
            "-" if part["last_cycle_s"] is None else f"{part['last_cycle_s']:.2f}",
            str(part["restarts"]),
            error[:120],
        )
    err.print(table)
    lags = [p for p in service.get("partitions", []) if p.get("lag") is not None]
    if lags:
        err.print(f"lag: {sum(p['lag'] for p in lags):,} messages over {len(lags)} partitions")
    published = service.get("published") or {}
    err.print(
        f"readers read the marts published {published.get('marts_published_at')} and the "
        f"queue published {published.get('queue_published_at')}",
        highlight=False,
    )
    build = service["parts"].get("build", {})
    for table, checks in (build.get("detail", {}).get("not_measured") or {}).items():
        for what in checks:
            err.print(f"gate not measured yet: {table}: {what}", markup=False, highlight=False)
    if build.get("last_error"):
        err.print(
            f"[yellow]the last build failed ({build['last_error']}); readers stay on the state "
            f"published {published.get('marts_published_at')}[/]",
            highlight=False,
        )


quarantine_app = typer.Typer(help="Inspect and re-drive events that broke the contract.")
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    reason: Annotated[str | None, typer.Option(help="only this reason")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="include replayed ones")] = False,
) -> None:
    """The newest quarantined events with their reason, and the count per reason."""
    from ingestion.quarantine import list_quarantined, reason_counts
    from leadflow.pipeline import open_warehouse

    with product_errors(), contextlib.closing(open_warehouse(settings(), read_only=True)) as db:
        rows = list_quarantined(db, reason=reason, limit=limit, include_replayed=all_)
        counts = reason_counts(db)
    for row in rows:
        emit(row)
    err.print(f"waiting in quarantine per reason: {counts or 'none'}")


@quarantine_app.command("show")
def quarantine_show(
    quarantine_id: Annotated[str, typer.Argument(help="id from `list`")],
    full: Annotated[bool, typer.Option("--full", help="every byte, however long")] = False,
) -> None:
    """One quarantined event: raw bytes (the first 2,000 characters unless --full), reason and
    every fault; a conflicting duplicate also shows the version that landed."""
    from ingestion.quarantine import show_quarantined
    from leadflow.pipeline import open_warehouse

    with product_errors(), contextlib.closing(open_warehouse(settings(), read_only=True)) as db:
        emit(show_quarantined(db, quarantine_id, full=full))


@quarantine_app.command("replay")
def quarantine_replay(
    reason: Annotated[str | None, typer.Option(help="only this reason")] = None,
) -> None:
    """Re-publish the quarantined events the contract now accepts to their original topic."""
    from ingestion.producer import make_producer
    from ingestion.quarantine import replay_quarantined
    from leadflow.pipeline import kafka_bootstrap, open_warehouse

    config = settings()
    _warn_if_ephemeral(config)
    with (
        product_errors(),
        kafka_bootstrap(config, err) as bootstrap,
        contextlib.closing(open_warehouse(config)) as db,
    ):
        producer = make_producer(bootstrap)
        try:
            report = replay_quarantined(db, producer, reason=reason)
        finally:
            producer.close()
    emit(dataclasses.asdict(report))


@app.command()
def rebuild() -> None:
    """Recreate the warehouse from the Parquet archive alone (no broker needed)."""
    from leadflow.pipeline import rebuild as run_rebuild

    with product_errors():
        emit(run_rebuild(settings(), err))


@app.command()
def docs(
    port: Annotated[int, typer.Option(help="port to serve the docs on")] = 8080,
    serve_docs: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve the site once generated")
    ] = True,
) -> None:
    """Generate the dbt docs of the warehouse (models, columns, tests, lineage) and serve
    them on LEADFLOW_API_HOST:PORT; --no-serve only writes them to $LEADFLOW_HOME/docs."""
    from leadflow.pipeline import generate_docs

    config = settings()
    with product_errors():
        site = generate_docs(config)
    emit({"docs": str(site), "single_file": str(site / "static_index.html")})
    if serve_docs:
        _serve_directory(site, config.api_host, port)


@app.command("export-marts")
def export_marts(
    to: Annotated[
        Path | None,
        typer.Option(help="the folder to write (default: LEADFLOW_BI_EXPORT_DIR)"),
    ] = None,
) -> None:
    """Write the published marts as Parquet files and a marts.duckdb of views over them,
    at stable paths for Metabase or Superset to open read-only (docs/bi-tools.md); `leadflow
    run` does it after each publication when LEADFLOW_BI_EXPORT_DIR is set."""
    from leadflow.serving import export_marts as write

    config = settings()
    directory = to or config.bi_export_dir
    if directory is None:
        err.print("[bold red]error:[/] say where: --to DIR, or set LEADFLOW_BI_EXPORT_DIR")
        raise typer.Exit(1)
    with product_errors():
        tables = write(config.home, directory)
    emit({"directory": str(directory), "views": str(directory / "marts.duckdb"), "tables": tables})


def _serve_directory(directory: Path, host: str, port: int) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # stdlib's name
            pass

    handler = functools.partial(QuietHandler, directory=str(directory))
    with ThreadingHTTPServer((host, port), handler) as server:
        err.print(
            f"[bold green]dbt docs[/] on http://{host}:{server.server_address[1]}/ "
            "(Ctrl-C stops it)"
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


users_app = typer.Typer(help="People who sign in to the pages: roles, passwords.")
app.add_typer(users_app, name="users")


def _password(password_stdin: bool, console_prompt: str) -> tuple[str, bool]:
    """A password from stdin, typed twice, or made up (then shown once): (it, made up)."""
    import getpass

    from leadflow.users import new_password

    if password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if not sys.stdin.isatty():
        return new_password(), True
    first = getpass.getpass(f"{console_prompt} (empty: make one up): ")
    if not first:
        return new_password(), True
    if getpass.getpass("again: ") != first:
        err.print("[bold red]error:[/] the two passwords differ", markup=True)
        raise typer.Exit(1)
    return first, False


def _user_record(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "rep_id": user.rep_id,
        "distributor_id": user.distributor_id,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
    }


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="the name they sign in with (a-z, 0-9, . _ -)")],
    role: Annotated[
        str, typer.Option(help="rep, manager, leadership, admin or distributor")
    ] = "rep",
    name: Annotated[str | None, typer.Option(help="how pages greet them (e.g. 王芳)")] = None,
    rep_id: Annotated[
        str | None, typer.Option(help="a rep's CRM id: the leads assigned to it are theirs")
    ] = None,
    distributor_id: Annotated[
        str | None, typer.Option(help="a distributor's CRM id: the leads handed to it")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from the first line of stdin")
    ] = False,
) -> None:
    """Add a person. Without --password-stdin, type a password, or leave it empty and one is
    made up and printed once."""
    from leadflow.users import Users

    config = settings()
    with product_errors():
        password, made_up = _password(password_stdin, f"password for {username}")
        user = Users(config.users_path).add(
            username,
            password,
            role=role,
            display_name=name,
            rep_id=rep_id,
            distributor_id=distributor_id,
        )
    record = _user_record(user)
    if made_up:
        record["password"] = password
    emit(record)


@users_app.command("list")
def users_list() -> None:
    """Every person, with role and whether they are disabled (never a password)."""
    from leadflow.users import Users

    config = settings()
    emit({"users": [_user_record(user) for user in Users(config.users_path).list()]})


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="a name from `list`")]) -> None:
    """Stop a person signing in, and end their sessions (their work stays)."""
    from leadflow.users import Users

    config = settings()
    with product_errors():
        user = Users(config.users_path).disable(username)
    emit(_user_record(user))


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="a name from `list`")]) -> None:
    """Let a disabled person sign in again."""
    from leadflow.users import Users

    config = settings()
    with product_errors():
        user = Users(config.users_path).enable(username)
    emit(_user_record(user))


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="a name from `list`")],
    password_stdin: Annotated[
        bool, typer.Option(help="read the password from the first line of stdin")
    ] = False,
) -> None:
    """Set a new password (typed, read from stdin, or made up and printed once); ends the
    person's sessions and clears their failed sign-ins."""
    from leadflow.users import Users

    config = settings()
    with product_errors():
        users = Users(config.users_path)
        users.get(username)  # before asking for a password
        password, made_up = _password(password_stdin, f"new password for {username}")
        user = users.reset_password(username, password)
    record: dict[str, Any] = {"username": user.username, "password_reset": True}
    if made_up:
        record["password"] = password
    emit(record)


model_app = typer.Typer(help="The model registry: versions, champion and challenger.")
app.add_typer(model_app, name="model")


@model_app.command("list")
def model_list() -> None:
    """Every trained version, newest first, with its metrics and aliases."""
    from models.registry import list_versions

    config = settings()
    emit({"versions": list_versions(config.registry_dir)})


@model_app.command("show")
def model_show(version: Annotated[str, typer.Argument(help="a version from `list`")]) -> None:
    """One version's model card (metrics, data window, features), verified on load."""
    from models.registry import load_version

    config = settings()
    with product_errors():
        model = load_version(config.registry_dir, version)
    emit(model.metrics)


@model_app.command("promote")
def model_promote(version: Annotated[str, typer.Argument(help="a version from `list`")]) -> None:
    """Make a version champion (scoring and the API use it from their next load)."""
    from models.registry import promote

    config = settings()
    with product_errors():
        previous = promote(config.registry_dir, version, reason="promoted by hand")
    emit({"champion": version, "previous": previous})


@model_app.command("rollback")
def model_rollback() -> None:
    """Make the champion before the current one champion again."""
    from models.registry import rollback

    config = settings()
    with product_errors():
        restored = rollback(config.registry_dir)
    emit({"champion": restored})


@model_app.command("drift")
def model_drift(
    days: Annotated[
        int,
        typer.Option(min=1, help="recent = inquiries submitted in the last DAYS days of the log"),
    ] = 30,
    version: Annotated[
        str | None, typer.Option(help="compare with this version's training population")
    ] = None,
    fail_on_drift: Annotated[
        bool, typer.Option(help="exit 1 when a PSI exceeds the threshold (for schedulers)")
    ] = False,
) -> None:
    """Population stability index (PSI) of recent inquiries, scored by the champion, against
    its training population, per feature and for the score; flags PSI above 0.2."""
    from rich.table import Table

    from leadflow.pipeline import open_warehouse
    from models.drift import NOT_COMPARED, measure_drift

    config = settings()
    with product_errors(), contextlib.closing(open_warehouse(config, read_only=True)) as db:
        report, compared = measure_drift(db, config.registry_dir, days=days, version=version)
    table = Table(title=f"drift of {report.recent_n} recent inquiries vs {report.training_n} "
                        f"in training (model {compared['version']})")  # fmt: skip
    table.add_column("feature")
    table.add_column("PSI", justify="right")
    table.add_column("")
    for name, value in sorted(report.psi.items(), key=lambda item: -item[1]):
        flag = "[bold red]drifted[/]" if name in report.drifted else ""
        table.add_row(name, f"{value:.3f}", flag)
    err.print(table)
    emit(
        {
            **compared,
            "training_n": report.training_n,
            "recent_n": report.recent_n,
            "threshold": report.threshold,
            "is_drifted": report.is_drifted,
            "drifted": report.drifted,
            "score_psi": report.psi["score"],
            "psi": report.psi,
            "not_compared": NOT_COMPARED,
        }
    )
    if fail_on_drift and report.is_drifted:
        raise typer.Exit(1)


identity_app = typer.Typer(help="Train and measure identity resolution (who is one customer).")
app.add_typer(identity_app, name="identity")


@identity_app.command("train")
def identity_train(
    out: Annotated[
        Path | None,
        typer.Option(help="where to save the model (default: the one the dbt project uses)"),
    ] = None,
) -> None:
    """Train the contact matching model (Splink, unsupervised) on the warehouse's contacts."""
    from leadflow.identity import train as run_training

    config = settings()
    with product_errors():
        emit(run_training(config, err, out=out))


@identity_app.command("evaluate")
def identity_evaluate(
    truth: Annotated[
        Path | None,
        typer.Option(help="simulator truth CSV with buyer_id (default: $LEADFLOW_HOME/truth.csv)"),
    ] = None,
) -> None:
    """Compare the resolved customers of the inquiries with a simulated run's true buyers."""
    from leadflow.identity import evaluate

    config = settings()
    with product_errors():
        emit(dataclasses.asdict(evaluate(config, truth or config.home / "truth.csv")))


bench_app = typer.Typer(help="Measure throughput against a baseline taken in the same run.")
app.add_typer(bench_app, name="bench")


@bench_app.command("ingest")
def bench_ingest(
    events: Annotated[int, typer.Option(help="at least this many simulated events")] = 200_000,
    consumers: Annotated[int, typer.Option(help="ingest consumers in the group")] = 1,
) -> None:
    """Landed-and-committed events/s of `leadflow ingest` vs a bare kafka-python consumer."""
    from leadflow.bench import bench_ingest as run_bench

    settings()
    with product_errors():
        emit(run_bench(err, events=events, consumers=consumers))


@bench_app.command("transform")
def bench_transform(
    sizes: Annotated[
        str, typer.Option(help="two event counts to build, small,large (e.g. 100k,1m)")
    ] = "1m,10m",
    seed: Annotated[int, typer.Option(help="seed of the simulated events")] = 11,
) -> None:
    """Full dbt build at two sizes, and an incremental run after 1 % more events."""
    from leadflow.bench import bench_transform as run_bench
    from leadflow.bench import parse_sizes

    try:
        small, large = parse_sizes(sizes)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--sizes") from None
    config = settings()
    with product_errors():
        emit(run_bench(err, config, sizes=(small, large), seed=seed))


@bench_app.command("score")
def bench_score(
    leads: Annotated[int, typer.Option(help="open inquiries to score")] = 1_000_000,
) -> None:
    """Batch scoring leads/s at 1M open inquiries vs scikit-learn's pipeline, same run."""
    from leadflow.bench import bench_score as run_bench

    settings()
    with product_errors():
        emit(run_bench(err, leads=leads))


@bench_app.command("freshness")
def bench_freshness(
    seconds: Annotated[float, typer.Option(help="how long the stream runs")] = 300.0,
    inquiries_per_s: Annotated[float, typer.Option(help="new inquiries per second")] = 20.0,
    others_per_s: Annotated[float, typer.Option(help="other events per second")] = 200.0,
    home: Annotated[
        Path | None,
        typer.Option(help="a built LEADFLOW_HOME to copy (default: build a demo-sized one)"),
    ] = None,
    build_interval: Annotated[float, typer.Option(help="seconds between dbt builds")] = 120.0,
) -> None:
    """Speed to lead under a steady stream into a real `leadflow run`: accepted by POST
    /v1/events → visible with a score in GET /v1/leads/{id}; and a reader's failed reads."""
    from leadflow.bench_freshness import bench_freshness as run_bench

    settings()
    with product_errors():
        emit(
            run_bench(
                err,
                seconds=seconds,
                inquiries_per_s=inquiries_per_s,
                others_per_s=others_per_s,
                home=home,
                build_interval_s=build_interval,
            )
        )


@bench_app.command("api")
def bench_api(
    seconds: Annotated[float, typer.Option(help="how long each endpoint is loaded")] = 15.0,
    connections: Annotated[int, typer.Option(help="concurrent keep-alive connections")] = 8,
    turns: Annotated[
        int,
        typer.Option(min=1, help="turns the bare endpoint and POST /v1/score take, alternating"),
    ] = 5,
    home: Annotated[
        Path | None,
        typer.Option(help="a built LEADFLOW_HOME to copy (default: build a demo-sized one)"),
    ] = None,
) -> None:
    """API speed under load: POST /v1/score's throughput against a bare endpoint of the same
    server in the same run, its p99; GET /v1/leads?limit=50 and the queue page's p95."""
    from leadflow.bench_api import bench_api as run_bench

    settings()
    with product_errors():
        emit(run_bench(err, seconds=seconds, connections=connections, turns=turns, home=home))


@bench_app.command("pages")
def bench_pages(
    seconds: Annotated[float, typer.Option(help="how long each page is loaded")] = 5.0,
    connections: Annotated[int, typer.Option(help="people opening it at once")] = 2,
    home: Annotated[
        Path | None,
        typer.Option(help="a built LEADFLOW_HOME to copy (default: build a demo-sized one)"),
    ] = None,
) -> None:
    """Every page's p95 (sales and leadership workspaces, exports, a saved query) against
    the goal of 300 ms: prints worst_page_p95_ms, pages_over_goal and each page's figures."""
    from leadflow.bench_pages import bench_pages as run_bench

    settings()
    with product_errors():
        emit(run_bench(err, seconds=seconds, connections=connections, home=home))


def _serve(config: Settings, announce: Callable[[dict[str, str]], None]) -> None:
    import uvicorn

    from leadflow.api import api_keys, make_api

    api = make_api(config)
    announce(api_keys(config))
    uvicorn.run(api, host=config.api_host, port=config.api_port, log_level="warning")


def _announce(config: Settings) -> Callable[[dict[str, str]], None]:
    def announce(keys: dict[str, str]) -> None:
        from leadflow.keys import key_for_role

        url = f"http://{config.api_host}:{config.api_port}"
        sales_key = key_for_role(keys, "sales") or key_for_role(keys, "admin")
        err.print(
            f"[bold green]scoring API[/] on {url}  (docs: {url}/docs; Ctrl-C stops it)",
            soft_wrap=True,
        )
        if config.api_keys:
            roles = ", ".join(sorted(set(keys.values())))
            _say(f"API keys: the {len(keys)} in LEADFLOW_API_KEYS (roles: {roles})")
        else:
            _say(f"API keys, one per role, kept in {(config.home / 'api_keys.json').resolve()}:")
            for key, role in sorted(keys.items(), key=lambda item: item[1]):
                _say(f"  {role}: {key}")
        _say("try:")
        _say(f"  curl -H 'X-API-Key: {sales_key}' '{url}/v1/leads?limit=5'")
        _say(
            f"  curl -H 'X-API-Key: {sales_key}' -H 'Content-Type: application/json' "
            f"{url}/v1/score "
            """-d '{"channel":"own_site","product_category":"pumps","country":"CN","quantity":20,"""
            """"target_unit_price":900,"list_unit_price":1000,"company":"Ningbo Pump Co.","""
            """"email":"zhang@ningbopump.cn"}'"""
        )

    return announce


def _announce_people(config: Settings) -> None:
    """The demo's people and where to sign in (passwords kept in the home, like its keys)."""
    from leadflow.users import Users, demo_people

    people = demo_people(config.home, Users(config.users_path))
    url = f"http://{config.api_host}:{config.api_port}"
    _say(
        f"sales workspace: {url}/  (中文; English: {url}/queue?lang=en); people, kept in "
        f"{(config.home / 'demo_people.json').resolve()}:"
    )
    for username, role, password in people:
        _say(f"  {role}: {username} / {password}")


def _say(line: str) -> None:
    """One line on stderr, never wrapped: a command wrapped at 80 columns fails when pasted."""
    err.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def serve() -> None:
    """Serve the scoring API (health, /v1/score, /v1/leads) on LEADFLOW_API_HOST:PORT."""
    config = settings()
    with product_errors():
        _serve(config, _announce(config))


@app.command()
def run(
    build_interval: Annotated[
        float | None,
        typer.Option(help="seconds between dbt builds (default LEADFLOW_BUILD_INTERVAL_S)"),
    ] = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve the API from this process")
    ] = True,
) -> None:
    """Run everything as one service: land events continuously, score new inquiries within
    seconds, build and gate the warehouse on a cadence, run the scheduled jobs, serve the API.
    Readers (the API, `leadflow status`, SQL) read the copies it publishes; SIGTERM drains."""
    from leadflow.api import api_keys
    from leadflow.pipeline import kafka_bootstrap
    from leadflow.service import Service

    config = settings()
    _warn_if_ephemeral(config)
    with product_errors(), kafka_bootstrap(config, err) as bootstrap:
        if not config.kafka_bootstrap:
            # a new embedded broker's log starts empty: offsets stored for another log
            # (an earlier broker) mean nothing to it, so it is read by a group of its own
            group = f"{config.consumer_group}-embedded-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
            config = config.model_copy(update={"consumer_group": group})
        service = Service(config, err, bootstrap=bootstrap, build_interval_s=build_interval)
        service.run(on_ready=lambda: _announce(config)(api_keys(config)))


@app.command()
def demo(
    serve_api: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            help="go on as `leadflow run`, fed live simulated events, once the history is in",
        ),
    ] = True,
    speed: Annotated[
        float, typer.Option(help="simulated seconds per real second of the live feed")
    ] = 120.0,
    feed_days: Annotated[float, typer.Option(help="simulated days the live feed holds")] = 30.0,
) -> None:
    """Simulate two years up to today and run the whole pipeline on embedded defaults, print
    its figures, then run the service with the simulation going on in accelerated time."""
    from ingestion.feeder import Feeder, held_events
    from leadflow.api import api_keys
    from leadflow.pipeline import FUTURE_EVENTS, kafka_bootstrap, run_demo
    from leadflow.service import Service

    config = settings()
    with product_errors(), kafka_bootstrap(config, err) as bootstrap:
        config = config.model_copy(update={"kafka_bootstrap": bootstrap})
        summary = run_demo(config, err, feed_days=feed_days if serve_api else 0.0)
        emit(dataclasses.asdict(summary))
        if not serve_api:
            return
        feeder = Feeder(
            bootstrap,
            held_events(config.home / FUTURE_EVENTS),
            start=dt.datetime.now(dt.UTC),
            speed=speed,
        )

        def ready() -> None:
            _announce(config)(api_keys(config))
            _announce_people(config)
            feeder.start_feeding()
            err.print(
                f"live feed: {feeder.report.pending:,} simulated events of the next "
                f"{feed_days:g} days, {speed:g}× faster than real time; `leadflow status` "
                "in another terminal (same LEADFLOW_HOME) shows the service"
            )

        service = Service(config, err, bootstrap=bootstrap)
        try:
            service.run(on_ready=ready)
        finally:
            feeder.close()


def main() -> None:
    """Entry point for `python -m leadflow`."""
    app(prog_name="leadflow")


if __name__ == "__main__":
    sys.exit(main())
