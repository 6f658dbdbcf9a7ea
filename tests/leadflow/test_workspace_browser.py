"""The sales workspace in a real browser (Debian's chromium, driven by Playwright) against a
real `leadflow run` on a real warehouse: a rep works a lead to "lost: price", another rep
cannot open it, a manager reassigns one, a form without its CSRF token is refused.

Screenshots of every page at 1366×768 go to $LEADFLOW_SCREENSHOTS when it is set (the
README's come from there), else to the test's temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from ingestion.broker import free_port
from leadflow.serving import ServingReader
from leadflow.users import Users
from tests.leadflow.test_run import (  # noqa: F401 - module fixtures
    SALES_KEY,
    broker,
    broker_process,
    built_home,
    running_service,
    seed_home,
)

pytestmark = pytest.mark.integration

PASSWORD = "a-long-test-password"
VIEWPORT = {"width": 1366, "height": 768}


def chromium() -> str:
    """Debian's chromium, which Playwright drives (its own browsers cannot be downloaded)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("no chromium on PATH: install Debian's `chromium` and `fonts-noto-cjk`")
    return found


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, duckdb.Error, OSError):
            value = predicate()
            if value:
                return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not within {timeout_s} s; log:\n" + log.read_text()[-3000:])


def lost_for_price(home: Path) -> int:
    """Inquiries lost for price, over every year, in the published rpt_lost_reasons."""
    reader = ServingReader(home)
    try:
        with contextlib.closing(reader.cursor()) as cursor:
            row = cursor.execute(
                "select coalesce(sum(lost_inquiries), 0) from rpt_lost_reasons "
                "where period_grain = 'year' and lost_reason = 'price'"
            ).fetchone()
    finally:
        reader.close()
    return int(row[0]) if row else 0


def marts_built_at(home: Path) -> str | None:
    from leadflow.serving import Publication

    publication = Publication.read(home)
    return publication.marts_published_at if publication else None


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()


def signed_in(browser: Any, base: str, username: str, shots: Path | None = None) -> Any:
    """A page of a new browser context, signed in as `username` through the sign-in form."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=base)
    page = context.new_page()
    page.goto("/queue")
    assert "/login" in page.url
    if shots is not None:
        page.screenshot(path=str(shots / "sign-in.png"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(re.compile(r".*/queue.*"))
    return page


def test_a_rep_works_a_lead_to_lost_and_the_loop_closes_within_seconds(
    built_home: Path,  # noqa: F811
    broker: str,  # noqa: F811
    browser: Any,
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("LEADFLOW_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    home = built_home
    log = home / "run.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sales = {"X-API-Key": SALES_KEY}
    with (
        running_service(home, broker, port, build_interval_s="40") as _,
        httpx.Client(base_url=base, timeout=10) as api,
    ):
        queue = wait_for(
            lambda: (
                (r := api.get("/v1/leads?limit=1000", headers=sales)).status_code == 200
                and r.json()["leads"]
            ),
            180,
            "the published queue",
            log,
        )
        owners = Counter(lead["rep_id"] for lead in queue if lead["owner_type"] == "rep")
        (rep, _), (other_rep, _) = owners.most_common(2)
        theirs = [lead for lead in queue if lead["rep_id"] == rep]
        assert len(theirs) >= 3, owners
        lost_lead, kept_lead, moved_lead = theirs[0], theirs[1], theirs[2]
        users = Users(home / "users.sqlite")
        users.add("alice", PASSWORD, role="rep", rep_id=rep, display_name="王丽")
        users.add("bob", PASSWORD, role="rep", rep_id=other_rep, display_name="张伟")
        users.add("mia", PASSWORD, role="manager", display_name="陈敏")
        price_before = lost_for_price(home)

        # a rep signs in, narrows the queue to the lead's tier and opens it
        alice = signed_in(browser, base, "alice", shots)
        alice.select_option("select[name=tier]", lost_lead["tier"])
        alice.click("form.filters button.primary")
        alice.wait_for_url(re.compile(rf".*tier={lost_lead['tier']}.*"))
        assert alice.locator(f"a[href='/leads/{lost_lead['inquiry_id']}']").count() == 1
        assert "我的询盘" in alice.content()
        alice.screenshot(path=str(shots / "queue.png"))
        alice.click(f"a[href='/leads/{lost_lead['inquiry_id']}']")
        alice.wait_for_url(re.compile(rf".*/leads/{lost_lead['inquiry_id']}$"))
        alice.screenshot(path=str(shots / "lead.png"), full_page=True)
        # the customer 360: at least this inquiry on the customer's timeline
        assert alice.locator("table.timeline tr").count() >= 1

        # logs a call, sends a quote, records "lost: price"
        alice.select_option("#contact select[name=medium]", "phone")
        alice.click("#contact button")
        alice.wait_for_url(re.compile(r".*done=contact"))
        alice.fill("#quote input[name=unit_price]", "4200")
        alice.click("#quote button")
        alice.wait_for_url(re.compile(r".*done=quote"))
        alice.select_option("#outcome select[name=action]", "lost")
        alice.select_option("#outcome select[name=lost_reason]", "price")
        alice.click("#outcome button")
        alice.wait_for_url(re.compile(r".*/queue\?done=.*"))
        recorded_at = time.monotonic()

        # within seconds the lead leaves the queue
        wait_for(
            lambda: (
                api.get(f"/v1/leads/{lost_lead['inquiry_id']}", headers=sales).status_code == 404
            ),
            15,
            "the lost lead leaving the queue",
            log,
        )
        left_after_s = time.monotonic() - recorded_at
        alice.goto("/queue?owner=mine")
        assert alice.locator(f"a[href='/leads/{lost_lead['inquiry_id']}']").count() == 0

        # another rep cannot open a lead of hers by URL; she can
        bob = signed_in(browser, base, "bob")
        assert bob.goto(f"/leads/{kept_lead['inquiry_id']}").status == 404
        assert alice.goto(f"/leads/{kept_lead['inquiry_id']}").status == 200

        # a form posted without the CSRF token is refused (the browser's cookie is not enough)
        forged = alice.request.post(
            f"/leads/{kept_lead['inquiry_id']}/actions",
            form={"action": "contact", "medium": "phone", "request_id": "forged-000001"},
        )
        assert forged.status == 403

        # a manager reassigns a lead of hers to the other rep, and it moves queues
        mia = signed_in(browser, base, "mia")
        mia.goto(f"/leads/{moved_lead['inquiry_id']}")
        mia.select_option("#assign select[name=assignee_type]", "rep")
        mia.fill("#assign input[name=assignee_id]", other_rep)
        mia.click("#assign button")
        mia.wait_for_url(re.compile(r".*done=assign"))
        wait_for(
            lambda: (
                api.get(f"/v1/leads/{moved_lead['inquiry_id']}", headers=sales).json().get("rep_id")
                == other_rep
            ),
            15,
            "the reassigned lead in the other rep's queue",
            log,
        )
        bob.goto("/queue?owner=mine")
        assert bob.locator(f"a[href='/leads/{moved_lead['inquiry_id']}']").count() == 1
        assert alice.goto(f"/leads/{moved_lead['inquiry_id']}").status == 404

        # the next build counts the lost reason in the leadership report
        built_before = marts_built_at(home)
        wait_for(
            lambda: marts_built_at(home) != built_before and lost_for_price(home) > price_before,
            240,
            "the lost reason in rpt_lost_reasons",
            log,
        )
        assert lost_for_price(home) == price_before + 1
        # the team page measures every handler on the published marts
        mia.goto("/team")
        assert mia.locator("table.queue tbody tr").count() >= 2
        mia.screenshot(path=str(shots / "team.png"), full_page=True)
        mia.goto("/queue?lang=en")
        mia.screenshot(path=str(shots / "queue-en.png"))
    # the service is stopped (drained): every action landed in the event log once
    with contextlib.closing(duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)) as db:
        landed = db.execute(
            "select inquiry_id, event_type, count(*) from raw_events "
            "where producer = 'leadflow_workspace' group by all order by all"
        ).fetchall()
    assert sorted(landed) == sorted(
        [
            (lost_lead["inquiry_id"], "inquiry_closed", 1),
            (lost_lead["inquiry_id"], "lead_contacted", 1),
            (lost_lead["inquiry_id"], "quote_sent", 1),
            (moved_lead["inquiry_id"], "lead_assigned", 1),
        ]
    )
    assert left_after_s < 15
