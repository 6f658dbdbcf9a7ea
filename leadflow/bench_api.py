"""`leadflow bench api`: how fast the API answers under load, against a bare endpoint of the
same server in the same run.

The API (`leadflow serve`, its own process) serves a built warehouse's published copies.
`connections` client threads, each with its own keep-alive connection, send one kind of
request as fast as answers come for `seconds` each: the bare endpoint (`GET /health`),
`POST /v1/score`, `GET /v1/leads?limit=50` (also with a filter that defeats the pages kept
per publication), and the queue page (`GET /queue`, signed in as a manager). Throughput
is answers per second; latency quantiles are per request. The bare endpoint and
`POST /v1/score`, whose rates make the ratio, take turns (`turns` of each, alternating), so
that both see the same moments of a shared machine.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics, free_port
from leadflow.settings import Settings

SCORE_BODY = {
    "channel": "own_site",
    "product_category": "centrifugal_pumps",
    "country": "CN",
    "quantity": 20,
    "target_unit_price": 900.0,
    "list_unit_price": 1000.0,
    "company": "Ningbo Pump Co.",
    "email": "zhang@ningbopump.cn",
}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Request:
    """One kind of request the load sends, again and again."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON
    # when given, each connection sends these in turn instead of `path` (e.g. the same page
    # of several periods, so that a figure is not one period's cached answer)
    paths: tuple[str, ...] = ()


@dataclass
class Sample:
    """What a load measured: each request's latency, the failures, the seconds it ran."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0

    def add(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.failed += other.failed
        self.seconds += other.seconds

    def summary(self) -> dict[str, Any]:
        every = self.latencies
        return {
            "requests": len(every),
            "rps": round(len(every) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round((_quantile(every, 0.5) or 0) * 1000, 2),
            "p95_ms": round((_quantile(every, 0.95) or 0) * 1000, 2),
            "p99_ms": round((_quantile(every, 0.99) or 0) * 1000, 2),
            "max_ms": round(max(every, default=0) * 1000, 2),
            "failed": self.failed,
        }


def load(base: str, request: Request, *, seconds: float, connections: int) -> dict[str, Any]:
    """`connections` threads sending `request` for `seconds`: rate, latency, failures."""
    return sample(base, request, seconds=seconds, connections=connections).summary()


def load_in_turns(
    base: str, requests: dict[str, Request], *, seconds: float, connections: int, turns: int
) -> dict[str, dict[str, Any]]:
    """`load` of each request for `seconds` in all, in `turns` turns taken in alternation:
    a shared machine's speed drifts over a minute, and the figures of two requests measured
    side by side (a ratio of their rates) should see the same drift."""
    samples = {name: Sample() for name in requests}
    for _ in range(turns):
        for name, request in requests.items():
            samples[name].add(
                sample(base, request, seconds=seconds / turns, connections=connections)
            )
    return {name: measured.summary() for name, measured in samples.items()}


def sample(base: str, request: Request, *, seconds: float, connections: int) -> Sample:
    """`connections` threads sending `request` as fast as answers come for `seconds`.

    Each thread keeps one connection of the standard library's `http.client`: the load
    shares the machine's cores with the server, and a heavier client (httpx took about
    three times the CPU per request) slowed the server it measured."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    payload = orjson.dumps(request.body) if request.body is not None else None
    headers = {**request.headers, **({"Content-Type": "application/json"} if payload else {})}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures = [0] * connections
    start = threading.Barrier(connections + 1)
    stop = threading.Event()

    def work(index: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)

        turn = itertools.count(index)

        def send() -> bool:
            path = request.paths[next(turn) % len(request.paths)] if request.paths else request.path
            connection.request(request.method, path, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status == 200

        try:
            send()  # the connection is open before the clock starts
            start.wait()
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    ok = send()
                except (OSError, http.client.HTTPException):
                    ok = False
                    connection.close()  # reconnects on the next request
                latencies[index].append(time.perf_counter() - began)
                failures[index] += 0 if ok else 1
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(60)
    elapsed = time.perf_counter() - began
    return Sample([value for values in latencies for value in values], sum(failures), elapsed)


@contextlib.contextmanager
def _server(home: Path, port: int, keys: str) -> Iterator[Path]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADFLOW_")}
    env.update(LEADFLOW_HOME=str(home), LEADFLOW_API_PORT=str(port), LEADFLOW_API_KEYS=keys)
    log_path = home / "bench-api.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "leadflow", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            yield log_path
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _publish(settings: Settings, console: Console) -> None:
    """Publish the marts and the queue as `leadflow run` would, with this version's code."""
    from leadflow.serving import publish_marts, publish_queue

    with contextlib.closing(duckdb.connect(str(settings.warehouse_path))) as connection:
        events = connection.execute("select count(*) from raw_events").fetchone()[0]
        publish_marts(connection, settings.home, state={"events": events})
        rows = publish_queue(connection, settings.home)
    console.log(f"published the marts of {events:,} events and a queue of {rows:,} open leads")


def warehouse_events(settings: Settings) -> int:
    with contextlib.closing(duckdb.connect(str(settings.warehouse_path), read_only=True)) as db:
        return int(db.execute("select count(*) from raw_events").fetchone()[0])


def prepared_home(console: Console, scratch: Path, home: Path | None) -> Settings:
    """A home under `scratch` with its marts and queue published: a demo-sized warehouse
    built for the run, or a copy of `home`."""
    settings = Settings(home=scratch / "home")
    if home is None:
        from leadflow.pipeline import run_demo

        with EmbeddedBroker(log_path=scratch / "broker.log") as broker:
            ensure_topics(broker.bootstrap)
            console.log("building a demo-sized warehouse (simulate → ingest → dbt → train)")
            run_demo(settings.model_copy(update={"kafka_bootstrap": broker.bootstrap}), console)
    else:
        console.log(f"copying {home}")
        shutil.copytree(home, settings.home, ignore=shutil.ignore_patterns("serving"))
    _publish(settings, console)
    return settings


@contextlib.contextmanager
def served(settings: Settings, keys: str) -> Iterator[str]:
    """`leadflow serve` on the home, in its own process, once it answers: its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _server(settings.home, port, keys) as log_path:
        with httpx.Client(base_url=base, timeout=5) as probe:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if probe.get("/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.2)
        yield base


def signed_in(settings: Settings, username: str, role: str) -> dict[str, str]:
    """The session cookie header of a new user of `role`."""
    from leadflow.users import Users

    password = secrets.token_urlsafe(16)
    users = Users(settings.users_path)
    users.add(username, password, role=role)
    _, token = users.sign_in(username, password, client="bench")
    return {"Cookie": f"leadflow_session={token}"}


def bench_api(
    console: Console,
    *,
    seconds: float = 15.0,
    connections: int = 8,
    turns: int = 5,
    home: Path | None = None,
) -> dict[str, Any]:
    """Build a demo-sized warehouse (or copy `home`), serve it, load each endpoint."""
    scratch = Path(os.environ.get("LEADFLOW_BENCH_DIR") or "/tmp") / f"bench-api-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        settings = prepared_home(console, scratch, home)
        events = warehouse_events(settings)
        cookie = signed_in(settings, "bench-manager", "manager")
        sales_key = f"lf_sales_{secrets.token_urlsafe(18)}"
        with served(settings, f"{sales_key}:sales") as base:
            key = {"X-API-Key": sales_key}
            # the ratio's two sides in alternating turns, then the reads one after another
            console.log(
                f"bare and score: {connections} connections, {seconds:g} s each in {turns} "
                "alternating turns"
            )
            measured = load_in_turns(
                base,
                {
                    "bare": Request("GET", "/health"),
                    "score": Request("POST", "/v1/score", key, SCORE_BODY),
                },
                seconds=seconds,
                connections=connections,
                turns=turns,
            )
            reads = {
                "leads": Request("GET", "/v1/leads?limit=50", key),
                # a filter that moves with the clock is never answered from the pages kept
                # per publication: what every first read of a new publication costs
                "leads_uncached": Request("GET", "/v1/leads?limit=50&max_age_hours=87600", key),
                "queue_page": Request("GET", "/queue", cookie),
            }
            for name, request in reads.items():
                console.log(f"{name}: {connections} connections for {seconds:g} s")
                measured[name] = load(base, request, seconds=seconds, connections=connections)
        bare, score = measured["bare"], measured["score"]
        return {
            "bench": "api",
            "warehouse_events": events,
            "connections": connections,
            "seconds_each": seconds,
            "turns": turns,
            "bare_rps": bare["rps"],
            "score_rps": score["rps"],
            "score_ratio": round(score["rps"] / bare["rps"], 3) if bare["rps"] else None,
            "score_p50_ms": score["p50_ms"],
            "score_p99_ms": score["p99_ms"],
            "leads_p95_ms": measured["leads"]["p95_ms"],
            "leads_uncached_p95_ms": measured["leads_uncached"]["p95_ms"],
            "queue_page_p95_ms": measured["queue_page"]["p95_ms"],
            "failed": {name: run["failed"] for name, run in measured.items()},
            "runs": measured,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
