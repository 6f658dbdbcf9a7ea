"""`leadflow run`: one always-on service that lands, builds, scores, publishes and serves.

One process owns the warehouse (DuckDB allows one writing process per file); every part of
the service is a thread of it sharing that one database, and everything outside it reads
the copies it publishes (leadflow/serving.py):

- **ingest** lands events from Kafka continuously (ingestion.consumer);
- **live** scores what each landing names within a second or so, and every open inquiry
  every `sweep_interval_s` (50 s; paced over half a minute at most, so arrivals never wait
  for all of them), then publishes the queue (models/live.py);
- **build** runs `dbt build` (incremental, one model at a time) in this process every
  `build_interval_s`, then the quality gates, and publishes the marts only when both
  passed;
- **jobs** runs the scheduled jobs: source freshness, drift, retraining;
- **api** serves the HTTP API (uvicorn) from the published copies.

The parts share the database's worker threads, all cores but one: a build's big queries
cannot take every core from the live ticks, the API and landing. The live scorer, the API
and landing run at a higher CPU priority than the build and the jobs
(`foreground_priority`, when permitted): the build uses the time the others leave.

A part that fails is restarted with back-off (1 s doubling to a minute) and its error is
kept for `leadflow status`, which reads `run_state.json` (rewritten every two seconds).
SIGTERM or Ctrl-C drains: the API stops taking requests, ingest lands what it holds and
stores its offsets, a build in progress finishes, then the process exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from leadflow import metrics
from leadflow.settings import Settings

log = logging.getLogger(__name__)
STATE_FILE = "run_state.json"
MAX_BACKOFF_S = 60.0
JOBS: dict[str, tuple[float, float]] = {
    # job: (seconds after start, then every so many seconds)
    "freshness": (30.0, 15 * 60.0),
    "drift": (15 * 60.0, 6 * 3600.0),
    "retrain": (6 * 3600.0, 24 * 3600.0),  # a new version is promoted only if it is better
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class PartState:
    """What `leadflow status` shows of one part."""

    name: str
    state: str = "starting"  # starting, running, backing_off, stopped, failed
    started_at: str | None = None
    last_cycle_at: str | None = None
    last_cycle_s: float | None = None
    last_ok_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    restarts: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class Part:
    """A thread running `body(stop)` until `stop` is set, restarted with back-off on error."""

    def __init__(self, name: str, body: Callable[[Part], None], stop: threading.Event) -> None:
        self.name = name
        self.body = body
        self.stop = stop
        self.state = PartState(name)
        self.backoff = 1.0
        self.thread = threading.Thread(target=self._run, name=f"leadflow-{name}", daemon=True)

    def start(self) -> None:
        """Start the part's thread."""
        self.thread.start()

    def cycle(self, seconds: float, **detail: Any) -> None:
        """Record a finished cycle of the part (for status and /metrics)."""
        now = _utc_now().isoformat(timespec="seconds")
        self.state.last_cycle_at = self.state.last_ok_at = now
        self.state.last_cycle_s = round(seconds, 3)
        self.state.detail.update(detail)
        metrics.CYCLE_SECONDS.labels(part=self.name).observe(seconds)
        self.backoff = 1.0  # it works again: the next failure starts the back-off over

    def failed(self, error: BaseException) -> None:
        """Record a failed cycle that the part itself survives (e.g. a failing build)."""
        self.state.last_error = _one_line(error)
        self.state.last_error_at = _utc_now().isoformat(timespec="seconds")
        metrics.PART_ERRORS.labels(part=self.name).inc()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.state.state = "running"
            self.state.started_at = _utc_now().isoformat(timespec="seconds")
            started = time.monotonic()
            try:
                self.body(self)
                if self.stop.is_set():
                    break
                raise RuntimeError(f"{self.name} returned without being stopped")
            except BaseException as error:  # a part never takes the service down
                if self.stop.is_set():
                    break
                log.error("%s failed: %s", self.name, "".join(traceback.format_exception(error)))
                self.failed(error)
                self.state.restarts += 1
                metrics.PART_RESTARTS.labels(part=self.name).inc()
                if time.monotonic() - started > 5 * MAX_BACKOFF_S:
                    self.backoff = 1.0  # it ran well for a while: start the back-off over
                self.state.state = "backing_off"
                self.stop.wait(self.backoff)
                self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
        self.state.state = "stopped"


class InjectedFault(Exception):
    """Raised into a part's thread on purpose (`$LEADFLOW_HOME/faults/<part>`), to prove it
    is restarted and loses nothing: the soak test's way to crash one part."""


def _raise_in(thread: threading.Thread, error: type[BaseException]) -> bool:
    """Raise `error` asynchronously in `thread` (at its next Python instruction)."""
    import ctypes

    if thread.ident is None:
        return False
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(error)
    )
    return bool(done == 1)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:500]


@dataclass
class Shared:
    """What the parts share: the owner connection, the clock of the last build, signals."""

    connection: duckdb.DuckDBPyConnection
    landed: threading.Event = field(default_factory=threading.Event)
    built: threading.Event = field(default_factory=threading.Event)
    built_since: dt.datetime | None = None  # start of the last build that passed its gates
    # the build and the jobs (dbt, Great Expectations, training: Python that holds the GIL)
    # run one at a time, so the live ticks and the API share the interpreter with one
    background: threading.Lock = field(default_factory=threading.Lock)


class Service:
    """The parts of `leadflow run` over one warehouse, and their supervision."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        *,
        bootstrap: str,
        build_interval_s: float | None = None,
        serve_api: bool = True,
    ) -> None:
        from leadflow.pipeline import open_warehouse

        # the threads started from here on (every part, the API, landing) inherit it; the
        # build and the jobs go back down
        self.prioritised = foreground_priority()
        if not self.prioritised:
            log.info(
                "the live scorer, the API and landing run at the build's CPU priority: "
                "raising theirs needs CAP_SYS_NICE (README: Running it as a service)"
            )
        _import_parts()
        # the build's dbt and gates are Python too: a thread waiting for the interpreter
        # waits up to this long each time it asks, and a live tick asks hundreds of times
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.settings = settings
        self.console = console
        self.bootstrap = bootstrap
        self.build_interval_s = build_interval_s or settings.build_interval_s
        self.serve_api = serve_api
        self.stop = threading.Event()
        self.shared = Shared(open_warehouse(settings))
        # every part's queries share this database's worker threads: a build's big queries
        # would take them all, so a core is kept for the live ticks, the API and landing
        self.shared.connection.execute(f"set threads = {database_threads()}")
        self.parts: dict[str, Part] = {}
        self.started_at = _utc_now()
        self.api_server: Any = None
        self.partitions: list[dict[str, Any]] = []
        self._state_at = 0.0
        self.staging: Any = None

    # --- supervision -------------------------------------------------------------------

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Start every part, serve the API in this thread until a signal, then drain."""
        for name, body in (
            ("ingest", self._ingest),
            ("build", self._build),
            ("live", self._live),
            ("jobs", self._jobs),
            ("state", self._write_state_loop),
        ):
            self.parts[name] = Part(name, body, self.stop)
        # live scoring starts at once on a warehouse built before, from what it holds
        self.shared.built_since = built_through(self.shared.connection)
        self.staging = live_staging(self.settings)
        for part in self.parts.values():
            part.start()
        # uvicorn handles SIGTERM/SIGINT while it serves, then restores these and raises the
        # signal again: with Python's default handlers that would kill the process before
        # it drains, so the signal only asks the parts to stop here
        _stop_on_signals(self.stop)
        try:
            if on_ready is not None:
                on_ready()
            if self.serve_api:
                self._serve()
            else:
                _wait_for_signal(self.stop)
        finally:
            self.shutdown()

    def shutdown(self, timeout_s: float = 120.0) -> None:
        """Stop every part: ingest lands what it holds, a running build finishes."""
        self.stop.set()
        self.shared.landed.set()
        deadline = time.monotonic() + timeout_s
        for part in self.parts.values():
            part.thread.join(max(0.0, deadline - time.monotonic()))
        self.write_state()
        with contextlib.suppress(duckdb.Error):
            self.shared.connection.close()

    def _serve(self) -> None:
        import uvicorn

        from leadflow.api import make_api

        app = make_api(self.settings, self.bootstrap, in_service=True)
        config = uvicorn.Config(
            app, host=self.settings.api_host, port=self.settings.api_port, log_level="warning"
        )
        self.api_server = uvicorn.Server(config)
        self.api_server.run()  # returns on SIGTERM / SIGINT (uvicorn's handlers)

    # --- parts -------------------------------------------------------------------------

    def _ingest(self, part: Part) -> None:
        from ingestion.consumer import IngestOptions, ingest

        def landed(count: int) -> None:
            metrics.EVENTS_CONSUMED.inc(count)
            self.shared.landed.set()

        options = IngestOptions(
            group_id=self.settings.consumer_group,
            archive_dir=self.settings.archive_dir,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            rules=self.settings.contract_rules,
        )
        report = ingest(
            self.bootstrap,
            self.shared.connection.cursor(),
            options=options,
            progress=landed,
            stop=self.stop,
        )
        part.cycle(0.0, **dataclasses.asdict(report))

    def _build(self, part: Part) -> None:
        from leadflow.pipeline import build_cycle
        from leadflow.serving import Publication

        background_priority()
        while not self.stop.is_set():
            started = _utc_now()
            began = time.monotonic()
            log.info("build started")
            # to the millisecond: `status` (and the soak test) tell which build a failure is
            part.state.detail["build_started_at"] = started.isoformat(timespec="milliseconds")
            try:
                with self.shared.background:
                    figures = build_cycle(self.settings, self.shared.connection, self.console)
            except Exception as error:
                part.failed(error)
                part.state.detail["failed_build_started_at"] = part.state.detail["build_started_at"]
                part.state.detail["last_good_build"] = (
                    self.shared.built_since.isoformat(timespec="seconds")
                    if self.shared.built_since
                    else None
                )
                log.error(
                    "build failed, readers stay on the last good state (%s): %s",
                    part.state.detail["last_good_build"] or "none yet",
                    _one_line(error),
                )
            else:
                self.shared.built_since = figures.pop("landed_through", None) or started
                log.info("build published: %s", figures)
                self.shared.built.set()
                part.cycle(time.monotonic() - began, **figures)
            # until a build has passed once, readers have nothing: try again soon
            never_published = Publication.read(self.settings.home) is None
            self.stop.wait(
                min(self.build_interval_s, 15.0) if never_published else self.build_interval_s
            )

    def _live(self, part: Part) -> None:
        from leadflow.serving import QueuePublisher
        from models.live import TICK_PERIOD_S, LiveScorer
        from models.scorer import current_scorer

        while self.shared.built_since is None and not self.stop.is_set():
            self.shared.built.wait(1.0)  # a warehouse never built: after the first build
        if self.stop.is_set():
            return
        staging = self.staging
        if staging is None:
            staging = self.staging = live_staging(self.settings)
        scorer_at: float = 0.0
        scorer = current_scorer(self.settings.registry_dir)
        live = LiveScorer(
            self.shared.connection, staging, sweep_every_s=self.settings.sweep_interval_s
        )
        publisher = QueuePublisher(self.settings.home)
        try:
            sweep = True
            began = 0.0
            while not self.stop.is_set():
                # at most one tick a TICK_PERIOD_S: a tick is raised above the build
                # (foreground_priority), and back-to-back ticks of a busy stream would
                # leave the build only what other work on the machine does not take
                self.stop.wait(max(0.0, began + TICK_PERIOD_S - time.monotonic()))
                self.shared.landed.wait(1.0)
                self.shared.landed.clear()
                began = time.monotonic()
                if time.monotonic() - scorer_at > 30:  # a newly promoted champion
                    scorer, scorer_at = current_scorer(self.settings.registry_dir), time.monotonic()
                if self.shared.built.is_set():
                    self.shared.built.clear()
                    sweep = True
                # a sweep starts now after a build, else when one is due
                if self._live_pass(part, live, publisher, scorer, sweep=True if sweep else None):
                    sweep = False
        finally:
            live.close()
            publisher.close()

    def _live_pass(
        self, part: Part, live: Any, publisher: Any, scorer: Any, *, sweep: bool | None
    ) -> bool:
        """One tick of the live scorer, its queue handed to `publisher`; False when it must be
        tried again (dbt swapped a table it read)."""
        assert self.shared.built_since is not None
        now = _utc_now()
        try:
            # the queue as the tick's snapshot sees it: with the newest submissions, each once
            result = live.tick(
                scorer,
                built_since=self.shared.built_since,
                now=now,
                sweep=sweep,
                then=lambda cursor, tick: _queue_of_tick(cursor, tick, publisher),
            )
            rows, details, landed = result.then
            # published while the next tick runs; the speed to lead counted when it is
            hours = self.settings.follow_up_hours

            def published() -> None:
                metrics.observe_speed_to_lead(landed, _utc_now())
                metrics.observe_queue(rows, hours, _utc_now())

            publisher.submit(rows, details, after=published)
            queue = rows.num_rows
            result.phases["publish"] = publisher.seconds  # the last publication's
        except (duckdb.CatalogException, duckdb.TransactionException) as error:
            # dbt swaps a table it rebuilds (create, rename, drop) while the tick read it,
            # or wrote what the tick wrote: the next tick reads it whole
            part.state.detail["retried_ticks"] = part.state.detail.get("retried_ticks", 0) + 1
            log.info("live tick retried: %s", _one_line(error))
            self.shared.landed.set()
            self.stop.wait(0.2)
            return False
        if result.rescored or result.removed or result.seconds > 2:
            log.info(
                "live tick: %d rescored (%d new), %d removed%s in %.2f s %s",
                result.rescored,
                len(result.first_scored),
                result.removed,
                " (sweep)" if result.swept else "",
                result.seconds,
                {name: round(value, 2) for name, value in result.phases.items()},
            )
        if result.swept:
            # when the sweep began and the scoring moment then (its open leads are those at
            # that moment); it took a few ticks, each chunk scored as of its own
            part.state.detail["swept_at"] = result.swept.started_at.isoformat(
                timespec="milliseconds"
            )
            part.state.detail["swept_as_of"] = str(result.swept.as_of)
            part.state.detail["swept_rescored"] = result.swept.rescored
        part.cycle(
            result.seconds,
            phases={name: round(value, 3) for name, value in result.phases.items()},
            rescored=result.rescored,
            removed=result.removed,
            queue=queue,
            scorer=scorer.kind,
            model_version=scorer.version,
        )
        return True

    def _jobs(self, part: Part) -> None:
        """Source freshness, drift and retraining, each on its own period (JOBS)."""
        background_priority()
        due = {job: time.monotonic() + first for job, (first, _) in JOBS.items()}
        while not self.stop.wait(2.0):
            if self.shared.built_since is None:
                continue
            for job, (_, every_s) in JOBS.items():
                if time.monotonic() < due[job] or self.stop.is_set():
                    continue
                if not self.shared.background.acquire(blocking=False):
                    break  # a build is running: the job waits for it to end
                due[job] = time.monotonic() + every_s
                began = time.monotonic()
                try:
                    part.state.detail[job] = self._run_job(job)
                except Exception as error:
                    part.failed(error)
                    part.state.detail[job] = {"error": _one_line(error)}
                    log.error("job %s failed: %s", job, _one_line(error))
                else:
                    part.cycle(time.monotonic() - began)
                finally:
                    self.shared.background.release()

    def _run_job(self, job: str) -> dict[str, Any]:
        from leadflow.pipeline import freshness
        from leadflow.runs import recorded_run

        connection = self.shared.connection
        if job == "freshness":
            results = freshness(self.settings, connection)
            return {r.source: r.status for r in results}
        if job == "drift":
            from models.drift import measure_drift

            cursor = connection.cursor()
            try:
                report, compared = measure_drift(cursor, self.settings.registry_dir)
            finally:
                cursor.close()
            return {"version": compared["version"], "drifted": report.drifted}
        if job == "retrain":
            from models.train import train

            cursor = connection.cursor()
            try:
                with recorded_run(self.settings.warehouse_path, "train") as details:
                    report = train(
                        cursor,
                        self.settings.registry_dir,
                        min_labelled=self.settings.min_labelled,
                        min_conversions=self.settings.min_conversions,
                    )
                    details.update(version=report.version, auc=report.auc)
            finally:
                cursor.close()
            return {"version": report.version, "promoted": report.promoted}
        raise ValueError(f"no job {job!r}")

    def _inject_faults(self) -> None:
        """Crash each part named by a file in $LEADFLOW_HOME/faults/ (the file is removed)."""
        folder = self.settings.home / "faults"
        if not folder.is_dir():
            return
        for request in folder.iterdir():
            part = self.parts.get(request.name)
            request.unlink(missing_ok=True)
            if part is not None and part is not self.parts.get("state"):
                log.warning("injecting a fault into %s, as %s asked", part.name, request)
                _raise_in(part.thread, InjectedFault)

    def _write_state_loop(self, part: Part) -> None:
        lag_at = 0.0
        while not self.stop.wait(0.5):
            self._inject_faults()
            if time.monotonic() - self._state_at < 2.0:
                continue
            self._state_at = time.monotonic()
            if time.monotonic() - lag_at >= 10.0:
                lag_at = time.monotonic()
                self.partitions = self._lags()
            self.write_state()
            part.state.last_cycle_at = _utc_now().isoformat(timespec="seconds")

    def _lags(self) -> list[dict[str, Any]]:
        """Lag per partition: the broker's end offsets against the landed ones."""
        from ingestion.sink import stored_offsets
        from leadflow.status import broker_end_offsets, partition_lags

        try:
            ends = broker_end_offsets(self.bootstrap, timeout_s=3.0)
        except Exception:  # an unreachable broker shows as unknown lag
            ends = {}
        cursor = self.shared.connection.cursor()
        try:
            landed = stored_offsets(cursor, self.settings.consumer_group)
        finally:
            cursor.close()
        lags = partition_lags(landed, ends)
        for lag in lags:
            if lag.lag is not None:
                metrics.LAG.labels(topic=lag.topic, partition=str(lag.partition)).set(lag.lag)
        return [dataclasses.asdict(lag) for lag in lags]

    # --- status ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What `leadflow status` shows of the running service."""
        from leadflow.serving import Publication

        publication = Publication.read(self.settings.home)
        landed = self._landed_counts()
        return {
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "updated_at": _utc_now().isoformat(timespec="seconds"),
            "bootstrap": self.bootstrap,
            "api": f"http://{self.settings.api_host}:{self.settings.api_port}",
            "stopping": self.stop.is_set(),
            "parts": {name: dataclasses.asdict(part.state) for name, part in self.parts.items()},
            "partitions": self.partitions,
            "consumer_group": self.settings.consumer_group,
            "published": dataclasses.asdict(publication) if publication else None,
            "last_good_build_started_at": (
                self.shared.built_since.isoformat(timespec="seconds")
                if self.shared.built_since
                else None
            ),
            **landed,
        }

    def _landed_counts(self) -> dict[str, Any]:
        try:
            cursor = self.shared.connection.cursor()
        except duckdb.Error:
            return {}
        try:
            from ingestion.sink import stored_offsets

            events, quarantined = cursor.execute(
                "select (select count(*) from raw_events), "
                "(select count(*) from quarantined_events)"
            ).fetchone()
            metrics.EVENTS_LANDED.set(events)
            metrics.EVENTS_QUARANTINED.set(quarantined)
            offsets = stored_offsets(cursor, self.settings.consumer_group)
            return {
                "events_landed": events,
                "events_quarantined": quarantined,
                "landed_offsets": {f"{t}[{p}]": o for (t, p), o in sorted(offsets.items())},
            }
        except duckdb.Error:
            return {}
        finally:
            cursor.close()

    def write_state(self) -> None:
        """Rewrite run_state.json atomically."""
        path = self.settings.home / STATE_FILE
        staged = path.with_name(f".{STATE_FILE}.{os.getpid()}")
        staged.write_text(json.dumps(self.state(), indent=1, default=str))
        os.replace(staged, path)


def built_through(connection: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The newest landing the built tables hold, or None when they were never built."""
    cursor = connection.cursor()
    try:
        row = cursor.execute("select max(ingested_at) from stg_leadflow__events").fetchone()
    except duckdb.CatalogException:
        return None
    finally:
        cursor.close()
    return row[0] if row and row[0] is not None else dt.datetime(1970, 1, 1)


def _import_parts() -> None:
    """Import what the parts use, here, before their threads start: Python's import locks
    can deadlock when threads import the same heavy packages (scikit-learn, narwhals) at
    once, which happened between the API's model loading and the live scorer."""
    import dbt.cli.main  # noqa: F401
    import uvicorn  # noqa: F401

    import ingestion.consumer  # noqa: F401
    import leadflow.api  # noqa: F401
    import models.drift  # noqa: F401
    import models.live  # noqa: F401
    import models.scorer  # noqa: F401
    import models.train  # noqa: F401
    import quality.gates  # noqa: F401
    import scoring_api.main  # noqa: F401


def _queue_of_tick(cursor: Any, tick: Any, publisher: Any) -> tuple[Any, Any, Any]:
    """What a tick hands the publisher, read in its snapshot: the queue (the last one with
    the rows the tick changed read again), the details of its inquiries not kept yet, and
    when the newly scored ones' events landed."""
    rows = publisher.queue(cursor, tick.changed)
    return (
        rows,
        publisher.details.fetch(cursor, rows),
        metrics.first_landings(cursor, tick.first_scored),
    )


SWITCH_INTERVAL_S = 0.0005
"""How long a thread of `leadflow run` may hold the interpreter while another waits for it
(Python's default: 0.005). A live tick or an API request hands the interpreter back at
every database call and array operation, and while a build runs it waited up to the whole
interval for each return: measured in `docs/decisions/`."""
FOREGROUND_NICE = -10
"""How much higher than the build and the jobs the service's other threads are scheduled:
the live scorer, the queue's publisher, the API and landing (a nice value, Linux)."""
_BASE_NICE: int | None = None  # the process's nice before foreground_priority


def foreground_priority() -> bool:
    """Raise the calling thread's CPU priority by FOREGROUND_NICE; every thread it starts
    afterwards inherits it (Linux: nice is per thread). Call it first, on the thread that
    starts the others; background parts go back down with `background_priority`.

    On two cores a 10M-event build takes a core for minutes: at the same priority, the
    live ticks, the API and landing shared the other with it and new leads waited twice
    as long. Raising the service's own threads, rather than lowering the build's, keeps the
    build level with any other work on the machine (a build niced below everything was
    starved by it). Raising needs CAP_SYS_NICE (root, or systemd's `AmbientCapabilities=
    CAP_SYS_NICE`, or `LimitNICE=`); without it nothing changes and False is returned."""
    global _BASE_NICE
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        base = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, max(-20, base + FOREGROUND_NICE))
        _BASE_NICE = base
        return True
    return False


def background_priority() -> None:
    """Put the calling thread (and the threads it starts: dbt's worker) back at the
    process's priority from before `foreground_priority`: the build and the jobs use the
    time the live scorer, the API and landing leave. A build's queries run on its own
    threads: on two cores the database has no worker threads besides the calling ones
    (`database_threads`: one). With more cores the database's workers, started with it,
    keep the raised priority: there are cores to spare."""
    if _BASE_NICE is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _BASE_NICE)


def database_threads() -> int:
    """The warehouse's worker threads in `leadflow run`: all cores but one (at least one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 2) - 1)


def live_staging(settings: Settings) -> Any:
    """Compile the live SQL of the staging models with dbt, in this process."""
    from leadflow.pipeline import dbt_in_process
    from models.live import LIVE_MODELS, compile_live_staging, compiled_models

    result = dbt_in_process(
        settings,
        "compile",
        ("--select", *LIVE_MODELS),
        target="live",
        dbt_vars={"leadflow_live": True},
    )
    return compile_live_staging(compiled_models(result))


def read_run_state(home: Path, *, stale_after_s: float = 15.0) -> dict[str, Any] | None:
    """The running service's state, or None when no service has written one recently."""
    path = home / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    updated = dt.datetime.fromisoformat(state.get("updated_at", "1970-01-01T00:00:00+00:00"))
    state["running"] = (_utc_now() - updated).total_seconds() <= stale_after_s and _alive(
        state.get("pid")
    )
    return state


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _wait_for_signal(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass
