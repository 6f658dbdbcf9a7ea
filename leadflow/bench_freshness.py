"""`leadflow bench freshness`: how long a new inquiry waits before sales see it scored.

A real `leadflow run` (its own process) over a built warehouse takes a steady stream through
`POST /v1/events`: new inquiries and other events (page views, contacts, quotes of the
inquiries posted before). One in `sample_every` new inquiries is timed from the moment the
collector accepted it (202) until `GET /v1/leads/{id}` returns it with a score. Meanwhile a
reader polls `/v1/leads` and `/v1/leads/{id}` 20 times a second and counts what failed
(a 5xx, a refused connection, a timeout). The service builds with dbt during the stream
(every `build_interval_s`), so readers are measured while the warehouse is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics
from leadflow.settings import Settings

KEYS = {
    "ingest": f"lf_ingest_{secrets.token_urlsafe(18)}",
    "sales": f"lf_sales_{secrets.token_urlsafe(18)}",
}
CHANNELS = ("own_site", "alibaba", "made_in_china", "trade_show", "referral")
CATEGORIES = ("centrifugal_pumps", "valves", "motors", "gearboxes")


@dataclass
class Timings:
    """Accepted → visible seconds of the sampled inquiries, and the reader's tally."""

    accepted: dict[str, float] = field(default_factory=dict)  # inquiry_id -> monotonic
    accepted_wall: dict[str, dt.datetime] = field(default_factory=dict)  # UTC, naive
    # inquiry_id -> (accepted, monotonic; seconds until visible), once seen scored
    visible: dict[str, tuple[float, float]] = field(default_factory=dict)
    # inquiry_id -> when the live tick that first showed it scored began (its scored_at)
    scored_at: dict[str, dt.datetime] = field(default_factory=dict)
    reads: int = 0
    reads_failed: int = 0
    failures: list[str] = field(default_factory=list)
    posted_inquiries: int = 0
    posted_other: int = 0
    post_failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _event_id() -> str:
    return uuid.uuid4().hex[:26].upper()


def _inquiry(inquiry_id: str, rng: random.Random) -> dict[str, Any]:
    company = f"Bench Buyer {rng.randrange(10**6)} Co."
    return {
        "event_type": "inquiry_submitted",
        "source": "web",
        "event_id": _event_id(),
        "schema_version": 1,
        "occurred_at": _now_iso(),
        "producer": "bench",
        "anonymous_id": f"A{inquiry_id}",
        "email": f"buyer{rng.randrange(10**7)}@bench-buyer.cn",
        "phone": f"138{rng.randrange(10**8):08d}",
        "company": company,
        "inquiry_id": inquiry_id,
        "payload": {
            "channel": rng.choice(CHANNELS),
            "contact_name": "王",
            "country": "CN",
            "sku": "CP80-150",
            "product_category": rng.choice(CATEGORIES),
            "quantity": rng.randrange(1, 50),
            "target_unit_price": float(rng.randrange(2000, 5000)),
            "currency": "CNY",
            "list_unit_price": 4640.0,
            "needs_customization": rng.random() < 0.2,
            "message": "请报价，含运费。",
        },
    }


def _other(known: list[str], rng: random.Random) -> dict[str, Any]:
    if known and rng.random() < 0.2:
        return {
            "event_type": "lead_contacted",
            "source": "sales",
            "event_id": _event_id(),
            "schema_version": 1,
            "occurred_at": _now_iso(),
            "producer": "crm",
            "inquiry_id": rng.choice(known[-500:]),
            "rep_id": "R01",
            "payload": {"medium": "phone", "contact_number": 1},
        }
    return {
        "event_type": "page_viewed",
        "source": "web",
        "event_id": _event_id(),
        "schema_version": 1,
        "occurred_at": _now_iso(),
        "producer": "tracker",
        "anonymous_id": f"V{rng.randrange(10**6)}",
        "payload": {
            "url": "https://example.com/products/pumps",
            "page_type": "product",
            "device": "desktop",
        },
    }


def _stream(
    client: httpx.Client,
    timings: Timings,
    stop: threading.Event,
    *,
    inquiries_per_s: float,
    others_per_s: float,
    sample_every: int,
) -> None:
    rng = random.Random(7)
    known: list[str] = []
    tick = 0.1
    next_at = time.monotonic()
    owed_inquiries = owed_others = 0.0
    while not stop.is_set():
        owed_inquiries += inquiries_per_s * tick
        owed_others += others_per_s * tick
        batch, sampled = [], []
        while owed_inquiries >= 1:
            owed_inquiries -= 1
            inquiry_id = f"INQB{uuid.uuid4().hex[:12].upper()}"
            batch.append(_inquiry(inquiry_id, rng))
            timings.posted_inquiries += 1
            if timings.posted_inquiries % sample_every == 0:
                sampled.append(inquiry_id)
            known.append(inquiry_id)
        while owed_others >= 1:
            owed_others -= 1
            batch.append(_other(known, rng))
            timings.posted_other += 1
        try:
            response = client.post("/v1/events", json=batch, headers={"X-API-Key": KEYS["ingest"]})
            accepted_at = time.monotonic()
            accepted_wall = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if response.status_code != 202 or response.json()["rejected"]:
                timings.post_failed += 1
                timings.failures.append(f"POST {response.status_code} {response.text[:200]}")
            else:
                with timings.lock:
                    for inquiry_id in sampled:
                        timings.accepted[inquiry_id] = accepted_at
                        timings.accepted_wall[inquiry_id] = accepted_wall
        except httpx.HTTPError as error:
            timings.post_failed += 1
            timings.failures.append(f"POST {type(error).__name__}")
        next_at += tick
        stop.wait(max(0.0, next_at - time.monotonic()))


def _watch(client: httpx.Client, timings: Timings, stop: threading.Event) -> None:
    """Poll each sampled inquiry until it is visible with a score; record the wait."""
    while not stop.is_set():
        with timings.lock:
            pending = list(timings.accepted.items())
        for inquiry_id, accepted_at in pending:
            try:
                response = client.get(
                    f"/v1/leads/{inquiry_id}", headers={"X-API-Key": KEYS["sales"]}
                )
            except httpx.HTTPError:
                continue
            lead = response.json() if response.status_code == 200 else {}
            if lead.get("score") is not None:
                with timings.lock:
                    timings.accepted.pop(inquiry_id, None)
                    timings.visible[inquiry_id] = (accepted_at, time.monotonic() - accepted_at)
                    timings.scored_at[inquiry_id] = dt.datetime.fromisoformat(
                        lead["scored_at"]
                    ).replace(tzinfo=None)
        stop.wait(0.2)


def _read(client: httpx.Client, timings: Timings, stop: threading.Event) -> None:
    """A reader at 20 requests a second, alternating the queue and one lead of it."""
    known: list[str] = []
    turn = 0
    while not stop.is_set():
        started = time.monotonic()
        path = "/v1/leads?limit=50"
        if turn % 2 and known:
            path = f"/v1/leads/{random.choice(known)}"
        turn += 1
        try:
            response = client.get(path, headers={"X-API-Key": KEYS["sales"]}, timeout=10)
            failed = response.status_code >= 500
            if path.endswith("limit=50") and response.status_code == 200:
                known = [lead["inquiry_id"] for lead in response.json()["leads"]] or known
        except httpx.HTTPError as error:
            failed, response = True, None
            timings.failures.append(f"GET {path}: {type(error).__name__}")
        timings.reads += 1
        if failed:
            timings.reads_failed += 1
            if response is not None:
                timings.failures.append(f"GET {path}: {response.status_code}")
        stop.wait(max(0.0, 0.05 - (time.monotonic() - started)))


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@contextlib.contextmanager
def _service(home: Path, bootstrap: str, port: int, build_interval_s: float) -> Iterator[Path]:
    env = {
        **os.environ,
        "LEADFLOW_HOME": str(home),
        "LEADFLOW_KAFKA_BOOTSTRAP": bootstrap,
        "LEADFLOW_API_PORT": str(port),
        "LEADFLOW_API_KEYS": ",".join(f"{key}:{role}" for role, key in KEYS.items()),
        "LEADFLOW_BUILD_INTERVAL_S": str(build_interval_s),
    }
    log_path = home / "bench-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "leadflow", "run"], env=env, stdout=log, stderr=log
        )
        try:
            yield log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(client: httpx.Client, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = client.get("/v1/leads?limit=1", headers={"X-API-Key": KEYS["sales"]})
            if response.status_code == 200:
                return
        time.sleep(1.0)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"leadflow run did not publish a queue in {timeout_s:.0f} s:\n{tail}")


def _service_parts(home: Path) -> dict[str, Any]:
    """Each part's restarts, last error and cycle figures, as the service reported them."""
    try:
        state = json.loads((home / "run_state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {
        name: {
            "restarts": part["restarts"],
            "last_error": part["last_error"],
            "last_cycle_s": part["last_cycle_s"],
            **{k: v for k, v in part["detail"].items() if k in {"retried_ticks", "build_s"}},
        }
        for name, part in state["parts"].items()
    }


def bench_freshness(
    console: Console,
    *,
    seconds: float = 300.0,
    inquiries_per_s: float = 20.0,
    others_per_s: float = 200.0,
    sample_every: int = 10,
    build_interval_s: float = 120.0,
    home: Path | None = None,
) -> dict[str, Any]:
    """Build a demo-sized warehouse (or copy `home`), run the service, stream, measure."""
    from leadflow.pipeline import run_demo

    scratch = Path(os.environ.get("LEADFLOW_BENCH_DIR") or "/tmp") / f"bench-fresh-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        with EmbeddedBroker(log_path=scratch / "broker.log") as broker:
            ensure_topics(broker.bootstrap)
            if home is None:
                settings = Settings(home=scratch / "home", kafka_bootstrap=broker.bootstrap)
                console.log("building a demo-sized warehouse (simulate → ingest → dbt → train)")
                summary = run_demo(settings, console)
                events = summary.events_landed
            else:
                # a copied warehouse's offsets name another broker: land the stream in a
                # fresh consumer group of this one
                shutil.copytree(home, scratch / "home", ignore=shutil.ignore_patterns("serving"))
                settings = Settings(home=scratch / "home")
                with duckdb.connect(str(settings.warehouse_path), read_only=True) as copied:
                    events = copied.execute("select count(*) from raw_events").fetchone()[0]
                os.environ["LEADFLOW_CONSUMER_GROUP"] = f"bench-{os.getpid()}"
            port = _free_port()
            timings = Timings()
            stop, watch_stop = threading.Event(), threading.Event()
            with (
                _service(settings.home, broker.bootstrap, port, build_interval_s) as log_path,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            ):
                console.log("waiting for `leadflow run` to build and publish")
                _wait_ready(client, 900, log_path)
                threads = [
                    threading.Thread(
                        target=_stream,
                        args=(client, timings, stop),
                        kwargs={
                            "inquiries_per_s": inquiries_per_s,
                            "others_per_s": others_per_s,
                            "sample_every": sample_every,
                        },
                    ),
                    threading.Thread(target=_watch, args=(client, timings, watch_stop)),
                    threading.Thread(target=_read, args=(client, timings, stop)),
                ]
                console.log(
                    f"streaming {inquiries_per_s:g} inquiries/s + {others_per_s:g} other "
                    f"events/s for {seconds:g} s"
                )
                for thread in threads:
                    thread.start()
                stream_started = time.monotonic()
                time.sleep(seconds)
                stop.set()  # the stream and the reader stop; the watcher goes on below
                for thread in threads[::2]:
                    thread.join()
                grace = time.monotonic() + 30  # then a sampled inquiry counts as never seen
                while timings.accepted and time.monotonic() < grace:
                    time.sleep(0.5)
                watch_stop.set()
                threads[1].join()
                parts = _service_parts(settings.home)
            never = len(timings.accepted)
            visible = [wait for _, wait in timings.visible.values()]
            landed = _landing_waits(settings.warehouse_path, timings)
            # each sample's moments, beside the service's log: to line them up with its ticks
            (settings.home / "bench-samples.jsonl").write_text(
                "".join(json.dumps(sample, default=str) + "\n" for sample in landed["samples"])
            )
            return {
                "bench": "freshness",
                "warehouse_events": events,
                "seconds": seconds,
                "inquiries_posted": timings.posted_inquiries,
                "other_events_posted": timings.posted_other,
                "posts_failed": timings.post_failed,
                "sampled": len(visible) + never,
                "speed_to_lead_p50_s": _quantile(visible, 0.5),
                "speed_to_lead_p95_s": _quantile(visible, 0.95),
                "speed_to_lead_max_s": round(max(visible), 3) if visible else None,
                "never_visible": never,
                # where the time went: accepted → landed in raw_events → visible scored
                "accepted_to_landed_p50_s": _quantile(landed["landed"], 0.5),
                "accepted_to_landed_p95_s": _quantile(landed["landed"], 0.95),
                "landed_to_visible_p50_s": _quantile(landed["visible"], 0.5),
                "landed_to_visible_p95_s": _quantile(landed["visible"], 0.95),
                "landed_to_tick_p50_s": _quantile(landed["to_tick"], 0.5),
                "landed_to_tick_p95_s": _quantile(landed["to_tick"], 0.95),
                "tick_to_visible_p50_s": _quantile(landed["from_tick"], 0.5),
                "tick_to_visible_p95_s": _quantile(landed["from_tick"], 0.95),
                "reads": timings.reads,
                "reads_failed": timings.reads_failed,
                "failures": timings.failures[:10],
                # the slowest waits, by when in the stream they were accepted (seconds)
                "slowest": [
                    {"at_s": round(at - stream_started, 1), "wait_s": round(wait, 2)}
                    for at, wait in sorted(timings.visible.values(), key=lambda item: -item[1])[:8]
                ],
                "service": parts,
                "never_visible_at_s": sorted(
                    round(at - stream_started, 1) for at in timings.accepted.values()
                ),
            }
    finally:
        kept = settings_home_log(scratch)
        if kept is not None:
            console.log(f"the service's log is kept in {kept}")
        shutil.rmtree(scratch, ignore_errors=True)


def _landing_waits(warehouse: Path, timings: Timings) -> dict[str, list[Any]]:
    """Per sampled inquiry seen scored: seconds from accepted to landed (its submission's
    ingested_at), from landed to visible, and that split at the start of the live tick
    that scored it: landed → tick (landing's commit, then the wait for a tick) and tick →
    visible (the tick, the queue's publication, the read). Read after the service stopped."""
    ids = list(timings.visible)
    waits: dict[str, list[Any]] = {
        "landed": [],
        "visible": [],
        "to_tick": [],
        "from_tick": [],
        "samples": [],
    }
    if not ids:
        return waits
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select inquiry_id, min(ingested_at) from raw_events "
            "where event_type = 'inquiry_submitted' and inquiry_id in (select unnest($ids)) "
            "group by inquiry_id",
            {"ids": ids},
        ).fetchall()
    for inquiry_id, landed_at in rows:
        to_land = (landed_at - timings.accepted_wall[inquiry_id]).total_seconds()
        waits["landed"].append(to_land)
        waits["visible"].append(timings.visible[inquiry_id][1] - to_land)
        scored_at = timings.scored_at.get(inquiry_id)
        if scored_at is not None:
            visible_at = timings.accepted_wall[inquiry_id] + dt.timedelta(
                seconds=timings.visible[inquiry_id][1]
            )
            waits["to_tick"].append((scored_at - landed_at).total_seconds())
            waits["from_tick"].append((visible_at - scored_at).total_seconds())
            waits["samples"].append(
                {
                    "inquiry_id": inquiry_id,
                    "accepted": timings.accepted_wall[inquiry_id],
                    "landed": landed_at,
                    "scored_at": scored_at,
                    "visible": visible_at,
                }
            )
    return waits


def settings_home_log(scratch: Path) -> Path | None:
    """Keep the service's log of a bench run in $LEADFLOW_HOME/bench/ (the scratch goes)."""
    log = scratch / "home" / "bench-run.log"
    if not log.exists():
        return None
    target = Settings().home / "bench" / f"freshness-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(log, target)
    samples = log.with_name("bench-samples.jsonl")
    if samples.exists():
        shutil.copy2(samples, target.with_suffix(".samples.jsonl"))
    return target
