"""The KPI board, by page and by API, for managers, leadership and admins: each KPI against
kpis.yml's lines, its exports (the XLSX's numbers are the page's), and offline charts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openpyxl
import pytest
from fastapi.testclient import TestClient

from leadflow.serving import publish_marts
from leadflow.users import Users
from scoring_api.auth import SESSION_COOKIE
from scoring_api.main import create_app
from tests.scoring_api.conftest import write_rpt_kpis

PASSWORD = "correct horse battery"
KEYS = {"admin-key-0123456789": "admin", "sales-key-0123456789": "sales"}
ADMIN_KEY = {"X-API-Key": "admin-key-0123456789"}


@pytest.fixture(scope="module")
def board_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Published marts whose rpt_kpis holds January to April 2026 (April in progress)."""
    home = tmp_path_factory.mktemp("kpis") / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as warehouse:
        write_rpt_kpis(warehouse)
        # 23:30 on 31 March in Beijing is March; 00:30 on 1 April is April
        warehouse.execute(
            """
            create table fct_inquiries as
            select * from (values
                ('INQ-MAR-1', timestamp '2026-03-02 01:00:00', 'won', true, false),
                ('INQ-MAR-2', timestamp '2026-03-31 15:30:00', 'open', false, true),
                ('INQ-APR-1', timestamp '2026-03-31 16:30:00', 'lost', false, false)
            ) as t(inquiry_id, submitted_at, state, is_converted, is_open)
            cross join (
                select 'own_site' as channel, 'Ningbo Pump Co.' as company, 'CN' as country,
                       'valves' as product_category, 'rep_01' as rep_id,
                       null::varchar as distributor_id, null::double as order_amount,
                       'rep' as assignee_type, 'Zhejiang' as province,
                       timestamp '2026-03-31 20:00:00' as first_contacted_at,
                       null::timestamp as quoted_at, null::varchar as lost_reason,
                       4.5 as first_response_hours, null::varchar as campaign,
                       null::timestamp as first_order_at, null::varchar as order_currency
            )
            """
        )
        publish_marts(warehouse, home)
    return home


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kpi-people") / "users.sqlite"
    users = Users(path)
    users.add("lee", role="leadership", password=PASSWORD)
    users.add("mia", role="manager", password=PASSWORD)
    users.add("alice", role="rep", rep_id="rep_01", password=PASSWORD)
    return path


class Site:
    def __init__(self, client: TestClient, users: Users) -> None:
        self.client = client
        self.users = users

    def get(self, path: str, username: str) -> object:
        _, token = self.users.sign_in(username, PASSWORD, client="test")
        return self.client.get(path, headers={"Cookie": f"{SESSION_COOKIE}={token}"})


def site_for(home: Path, people: Path, kpis: Path | None = None) -> Iterator[Site]:
    app = create_app(
        warehouse_path=home / "warehouse.duckdb",
        registry_dir=home / "registry",
        api_keys=KEYS,
        serving_home=home,
        users_path=people,
        kpis_path=kpis,
    )
    with TestClient(app, follow_redirects=False) as client:
        yield Site(client, Users(people))


@pytest.fixture
def site(board_home: Path, people: Path) -> Iterator[Site]:
    yield from site_for(board_home, people)


def test_the_board_judges_each_kpi_of_the_last_whole_month_against_its_lines(
    site: Site,
) -> None:
    response = site.client.get("/v1/reports/kpis", headers=ADMIN_KEY)

    assert response.status_code == 200
    board = response.json()
    assert (board["period_label"], board["is_partial"]) == ("2026-03", False)
    kpis = {kpi["formula"]: kpi for kpi in board["kpis"]}
    assert kpis["conversion_rate"]["status"] == "red"
    assert kpis["conversion_rate"]["fired"] == {"line": "red", "value": 0.10, "side": "below"}
    assert kpis["on_time_delivery_rate"]["status"] == "amber"
    assert kpis["inquiries"]["status"] == "green" and kpis["inquiries"]["target_met"]
    assert kpis["inquiries"]["previous_period"] == {"value": 600.0, "change": 100.0}
    assert kpis["gross_margin"]["status"] == "not_measured"
    assert [point["period_label"] for point in kpis["inquiries"]["trend"]] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]


def test_a_month_in_progress_is_shown_partial_and_its_counts_are_not_judged(site: Site) -> None:
    board = site.client.get("/v1/reports/kpis?on=2026-04-10", headers=ADMIN_KEY).json()

    assert (board["period_label"], board["is_partial"]) == ("2026-04", True)
    kpis = {kpi["formula"]: kpi for kpi in board["kpis"]}
    assert kpis["inquiries"]["status"] == "not_judged"
    assert kpis["inquiries"]["previous_period"] is None  # never compared with a whole one
    assert kpis["conversion_rate"]["status"] == "red"  # a rate is judged


def test_a_period_the_log_does_not_cover_is_a_404_that_says_what_it_covers(site: Site) -> None:
    response = site.client.get("/v1/reports/kpis?grain=month&on=2019-01-01", headers=ADMIN_KEY)

    assert response.status_code == 404
    assert "2026-01-01 to 2026-04-01" in response.json()["detail"]


def test_a_director_reads_the_board_in_chinese_and_in_english_with_the_rule_that_fired(
    site: Site,
) -> None:
    chinese = site.get("/kpis", "lee")
    english = site.get("/kpis?lang=en", "lee")

    assert chinese.status_code == 200
    assert "关键指标" in chinese.text and "询盘转化率" in chinese.text
    assert "低于红线 9.5%" not in chinese.text  # the line is named, not the value
    assert "低于红线 10.0%" in chinese.text
    assert "below the red line of 10.0%" in english.text
    assert "below the amber line of 90.0%" in english.text
    assert "the event log records no cost of goods" in english.text
    # the charts: plotly.js from the wheel, nothing from elsewhere
    scripts = re.findall(r'<script src="([^"]+)"', chinese.text)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    for src in scripts:
        asset = site.client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 1000


def test_a_rep_may_not_open_the_board_nor_sees_its_link_and_a_manager_may(site: Site) -> None:
    rep = site.get("/kpis", "alice")
    queue = site.get("/queue", "alice")
    manager = site.get("/kpis", "mia")

    assert rep.status_code == 403
    assert 'href="/kpis"' not in queue.text
    assert manager.status_code == 200
    assert site.client.get("/v1/reports/kpis", headers={"X-API-Key": "sales-key-0123456789"})
    assert (
        site.client.get(
            "/v1/reports/kpis", headers={"X-API-Key": "sales-key-0123456789"}
        ).status_code
        == 403
    )


def test_the_xlsx_of_the_board_holds_the_pages_numbers_as_numbers(site: Site) -> None:
    board = site.client.get("/v1/reports/kpis", headers=ADMIN_KEY).json()
    response = site.get("/kpis.xlsx?grain=month&on=2026-03-15&lang=en", "lee")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "KPIs · 2026-03"
    head = {row[0]: row[1] for row in rows[1:5] if row and row[0]}
    assert head["period"].startswith("2026-03 (2026-03-01")
    assert head["Currency"] == "CNY"
    assert "generated" in head
    header = rows.index(["KPIs", "value", "vs previous", "vs year ago", "target",
                         "amber line", "red line", "status"])  # fmt: skip
    table = {row[0]: row for row in rows[header + 1 :]}
    for kpi in board["kpis"]:
        row = table[kpi["label"]["en"]]
        # a number, not text, to the 15 digits a spreadsheet keeps
        assert row[1] == (None if kpi["value"] is None else pytest.approx(kpi["value"], rel=1e-14))
        assert row[4] == kpi["lines"]["target"]
        if kpi["value"] is not None:
            assert isinstance(row[1], float | int)
    csv_rows = list(
        csv.reader(io.StringIO(site.get("/kpis.csv?lang=en", "lee").text.lstrip("\ufeff")))
    )
    assert csv_rows[0][0] == "KPIs"
    assert {row[0]: row[1] for row in csv_rows[1:]}["Inquiries"] == "700.0"


def test_a_broken_kpis_file_makes_the_board_say_what_to_change(
    board_home: Path, people: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "kpis.yml"
    broken.write_text(
        "kpis: [{formula: margin_ebitda, direction: higher, target: 1, amber: 1, red: 1}]"
    )
    for current in site_for(board_home, people, broken):
        api = current.client.get("/v1/reports/kpis", headers=ADMIN_KEY)
        page = current.get("/kpis?lang=en", "lee")

        assert api.status_code == 503
        assert "unknown formula 'margin_ebitda'" in api.json()["detail"]
        assert page.status_code == 503
        assert "The KPI file cannot be used" in page.text


def test_a_click_on_a_figure_lists_the_inquiries_of_its_period_cut_in_beijing_time(
    site: Site,
) -> None:
    every = site.get("/reports/drill?grain=month&period_start=2026-03-01&state=all", "lee")
    won = site.get("/reports/drill?grain=month&period_start=2026-03-01&state=won&lang=en", "lee")
    april = site.get("/reports/drill?grain=quarter&period_start=2026-04-01", "lee")
    board = site.get("/kpis", "lee")

    assert every.status_code == 200
    assert "INQ-MAR-1" in every.text and "INQ-MAR-2" in every.text
    assert "INQ-APR-1" not in every.text  # 00:30 on 1 April in Beijing
    assert "2026-03-31 23:30" in every.text  # shown in the time the period is cut in
    assert "INQ-MAR-2" not in won.text and "1 shown of 1" in won.text
    assert "INQ-APR-1" in april.text
    # the list exports as displayed: company time, the filters in the header
    xlsx = site.get("/reports/drill.xlsx?grain=month&period_start=2026-03-01&channel=own_site",
                    "lee")  # fmt: skip
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert ("筛选", "渠道: 官网") in [row[:2] for row in rows]
    assert ("周期类型", "月") in [row[:2] for row in rows]
    listed = {
        row[0]: row[1] for row in rows[rows.index(next(r for r in rows if r[0] == "询盘")) + 1 :]
    }
    assert listed == {
        "INQ-MAR-1": dt.datetime(2026, 3, 2, 9, 0),
        "INQ-MAR-2": dt.datetime(2026, 3, 31, 23, 30),
    }
    assert "/reports/drill?grain=month&period_start=2026-03-01&state=all" in board.text
    assert (
        site.get("/reports/drill?grain=month&period_start=2026-03-01", "alice").status_code == 403
    )


def test_the_classification_summary_by_api_page_and_xlsx_with_subtotals_and_total(
    site: Site,
) -> None:
    api = site.client.get(
        "/v1/reports/inquiry-classification?grain=month&on=2026-03-10&rows=channel&then=product_category",
        headers=ADMIN_KEY,
    )
    page = site.get(
        "/reports/inquiries?grain=month&on=2026-03-10&rows=channel&then=product_category&lang=en",
        "lee",
    )
    xlsx = site.get(
        "/reports/inquiries.xlsx?grain=month&on=2026-03-10&rows=channel&then=product_category&lang=en",
        "lee",
    )

    assert api.status_code == 200
    lines = api.json()["lines"]
    assert [line["kind"] for line in lines] == ["subtotal", "row", "total"]
    total = lines[-1]
    # INQ-MAR-1 (won) and INQ-MAR-2 (open); 00:30 on 1 April in Beijing is April's
    assert (total["inquiries"], total["won"], total["open"]) == (2, 1, 1)
    assert page.status_code == 200 and "Inquiry classification" in page.text
    assert "Subtotal" in page.text and "Total" in page.text
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    last = rows[-1]
    assert last[0] == "Total" and last[2] == 2 and isinstance(last[2], int)
    assert site.get("/reports/inquiries", "alice").status_code == 403
    same = site.client.get(
        "/v1/reports/inquiry-classification?on=2026-03-10&rows=channel&then=channel",
        headers=ADMIN_KEY,
    ).json()
    assert same["then"] is None and [line["kind"] for line in same["lines"]] == ["row", "total"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/reports/drill?on={day}&grain=year",
        "/v1/reports/inquiry-classification?on={day}&grain=year",
        "/v1/reports/promotion?on={day}&grain=year",
    ],
)
def test_the_calendars_first_and_last_days_are_answered_never_a_server_error(
    site: Site, path: str
) -> None:
    first = site.client.get(path.format(day="0001-01-01"), headers=ADMIN_KEY)
    last = site.client.get(path.format(day="9999-12-31"), headers=ADMIN_KEY)

    assert first.status_code in (200, 503), first.text  # 503: a mart the fixture lacks
    assert last.status_code == 404 and "does not end within the calendar" in last.text
    page = site.get("/reports/drill?grain=year&period_start=9999-12-31", "lee")
    assert page.status_code == 404
