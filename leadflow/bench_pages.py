"""`leadflow bench pages`: how fast every page a person opens answers, against the goal of
a p95 of 300 ms on the 10M-event warehouse.

The pages (`leadflow serve`, its own process) serve a built warehouse's published copies,
as under `leadflow run`. For `seconds` each, `connections` people (2 by default: a few
readers of dashboards on a two-core machine) open one page again and again, signed in as a
person whose role may: the sales workspace as a manager, the leadership workspace as a
director. A report page is opened for each of the log's recent whole periods in turn
(twelve months, four quarters, …), so its figure is not one period's answer read again;
the exports are timed like pages, and so is running a shipped saved query
(`POST /v1/sql/saved/{name}/run`, an admin's key). A page that answers 404 before the
load (not in this version) is reported `missing`; any other answer but 200 during the
load is a failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
from rich.console import Console

from leadflow.bench_api import Request, load, prepared_home, served, signed_in, warehouse_events

GOAL_P95_MS = 300.0


@dataclass(frozen=True)
class Page:
    """A page to time: who opens it, and its path — with `{period}` filled in by each of the
    recent whole periods of `grain`, and `{lead}` by an open lead of the queue."""

    name: str
    who: str  # manager, director or machine (an admin's API key)
    path: str
    grain: str | None = None
    method: str = "GET"


# every page a person opens; adding one is one line
PAGES: tuple[Page, ...] = (
    Page("queue", "manager", "/queue"),
    Page("lead", "manager", "/leads/{lead}"),
    Page("team", "manager", "/team"),
    Page("kpis_week", "director", "/kpis?grain=week&on={period}", "week"),
    Page("kpis_month", "director", "/kpis?grain=month&on={period}", "month"),
    Page("kpis_quarter", "director", "/kpis?grain=quarter&on={period}", "quarter"),
    Page("kpis_year", "director", "/kpis?grain=year&on={period}", "year"),
    Page("inquiries_month", "director", "/reports/inquiries?grain=month&on={period}", "month"),
    Page(
        "inquiries_quarter_by_product",
        "director",
        "/reports/inquiries?grain=quarter&on={period}&rows=channel&then=product_category",
        "quarter",
    ),
    Page(
        "inquiries_year_by_intent",
        "director",
        "/reports/inquiries?grain=year&on={period}&rows=intent&then=handler",
        "year",
    ),
    Page("promotion_month", "director", "/reports/promotion?grain=month&on={period}", "month"),
    Page(
        "promotion_quarter", "director", "/reports/promotion?grain=quarter&on={period}", "quarter"
    ),
    Page("lost_reasons", "director", "/reports/lost-reasons?grain=month&on={period}", "month"),
    Page("sales", "director", "/reports/sales?grain=month&on={period}", "month"),
    Page("logistics", "director", "/reports/logistics?grain=month&on={period}", "month"),
    Page("drill_month", "director", "/reports/drill?grain=month&period_start={period}", "month"),
    Page(
        "drill_quarter_channel",
        "director",
        "/reports/drill?grain=quarter&period_start={period}&channel=own_site&state=won",
        "quarter",
    ),
    Page("sql", "director", "/sql"),
    Page("kpis_xlsx", "director", "/kpis.xlsx?grain=month&on={period}", "month"),
    Page(
        "inquiries_xlsx",
        "director",
        "/reports/inquiries.xlsx?grain=quarter&on={period}&rows=channel&then=product_category",
        "quarter",
    ),
    Page("promotion_xlsx", "director", "/reports/promotion.xlsx?grain=month&on={period}", "month"),
    Page("saved_query", "machine", "/v1/sql/saved/kpis_by_month/run", method="POST"),
)

RECENT = {"week": 12, "month": 12, "quarter": 4, "year": 2}


def _recent_periods(path: Path) -> dict[str, list[str]]:
    """The log's most recent whole periods of each grain, newest first (then partial ones:
    a log shorter than a year has no whole year)."""
    with contextlib.closing(duckdb.connect(str(path), read_only=True)) as db:
        return {
            grain: [
                row[0].isoformat()
                for row in db.execute(
                    "select period_start from rpt_kpis where period_grain = ?"
                    " order by is_partial, period_start desc limit ?",
                    [grain, count],
                ).fetchall()
            ]
            for grain, count in RECENT.items()
        }


def _open_lead(path: Path) -> str:
    with contextlib.closing(duckdb.connect(str(path), read_only=True)) as db:
        row = db.execute(
            "select inquiry_id from fct_inquiries where is_open order by submitted_at desc limit 1"
        ).fetchone()
    if row is None:
        raise RuntimeError("the warehouse has no open lead to open a lead page of")
    return str(row[0])


def bench_pages(
    console: Console,
    *,
    seconds: float = 5.0,
    connections: int = 2,
    home: Path | None = None,
) -> dict[str, Any]:
    """Build a demo-sized warehouse (or copy `home`), serve it, time every page."""
    scratch = Path(os.environ.get("LEADFLOW_BENCH_DIR") or "/tmp") / f"bench-pages-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        settings = prepared_home(console, scratch, home)
        events = warehouse_events(settings)
        periods = _recent_periods(settings.warehouse_path)
        lead = _open_lead(settings.warehouse_path)
        admin_key = f"lf_admin_{secrets.token_urlsafe(18)}"
        people = {
            "manager": signed_in(settings, "bench-manager", "manager"),
            "director": signed_in(settings, "bench-director", "leadership"),
            "machine": {"X-API-Key": admin_key},
        }
        measured: dict[str, Any] = {}
        with (
            served(settings, f"{admin_key}:admin") as base,
            httpx.Client(base_url=base, timeout=120) as probe,
        ):
            for page in PAGES:
                paths = tuple(
                    page.path.format(period=period, lead=lead)
                    for period in (periods[page.grain] if page.grain else [""])
                )
                headers = people[page.who]
                first = probe.request(page.method, paths[0], headers=headers)
                if first.status_code == 404 and page.who != "machine":
                    console.log(f"{page.name}: {paths[0]} is not in this version (404)")
                    measured[page.name] = "missing"
                    continue
                if first.status_code != 200:
                    raise RuntimeError(
                        f"{page.name}: {paths[0]} answered {first.status_code}: {first.text[:300]}"
                    )
                # each period's first read, alone: what nothing kept yet answers (the
                # reports keep an answer per publication, as the queue does)
                first_reads = [first.elapsed.total_seconds() * 1000]
                for path in paths[1:]:
                    began = time.perf_counter()
                    probe.request(page.method, path, headers=headers).raise_for_status()
                    first_reads.append((time.perf_counter() - began) * 1000)
                console.log(
                    f"{page.name}: {connections} connections for {seconds:g} s"
                    f" over {len(paths)} path(s)"
                )
                measured[page.name] = load(
                    base,
                    Request(page.method, paths[0], headers, paths=paths),
                    seconds=seconds,
                    connections=connections,
                )
                measured[page.name]["first_read_max_ms"] = round(max(first_reads), 2)
        timed = {name: run for name, run in measured.items() if run != "missing"}
        worst = max(timed, key=lambda name: timed[name]["p95_ms"])
        return {
            "bench": "pages",
            "warehouse_events": events,
            "connections": connections,
            "seconds_each": seconds,
            "goal_p95_ms": GOAL_P95_MS,
            "worst_page": worst,
            "worst_page_p95_ms": timed[worst]["p95_ms"],
            "pages_over_goal": sorted(
                name for name, run in timed.items() if run["p95_ms"] > GOAL_P95_MS
            ),
            "failed": sum(run["failed"] for run in timed.values()),
            "p95_ms": {name: run["p95_ms"] for name, run in timed.items()},
            # the slowest first read of any period, alone (nothing kept yet)
            "first_read_max_ms": {name: run["first_read_max_ms"] for name, run in timed.items()},
            "missing": sorted(name for name, run in measured.items() if run == "missing"),
            "pages": measured,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
