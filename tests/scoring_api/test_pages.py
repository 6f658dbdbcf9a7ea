"""The workspace's pages over the app: signing in, the queue a rep may see, a lead, forms
that need the session's CSRF token, Chinese by default and English on request; ad-hoc SQL
for directors only."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ingestion.contracts import Event
from scoring_api.auth import SESSION_COOKIE
from scoring_api.main import create_app
from scoring_api.saved_queries import shipped_examples
from tests.scoring_api.conftest import API_KEYS, SALES, SqlHome
from tests.scoring_api.test_workspace_api import PASSWORD, people  # noqa: F401 - a fixture


@pytest.fixture
def site(served_home: tuple[Path, Path], people: Path) -> Iterator[tuple[TestClient, list[Event]]]:  # noqa: F811
    published: list[Event] = []

    def publish(events: Sequence[Event]) -> None:
        published.extend(events)

    app = create_app(
        warehouse_path=served_home[0],
        registry_dir=served_home[1],
        api_keys=API_KEYS,
        publish_events=publish,
        users_path=people,
    )
    with TestClient(app, follow_redirects=False) as client:
        yield client, published


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )
    return response.status_code


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_page_without_a_session_sends_the_browser_to_sign_in(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site

    response = client.get("/queue?tier=A")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fqueue%3Ftier%3DA"


def test_signing_in_sets_an_httponly_samesite_session_cookie(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site

    assert sign_in(client, "alice", "wrong password!") == 401
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )

    assert response.status_code == 303 and response.headers["location"] == "/queue"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_a_sign_in_form_without_its_token_is_refused(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site

    response = client.post("/login", data={"username": "alice", "password": PASSWORD})

    assert response.status_code == 403 and SESSION_COOKIE not in response.headers.get(
        "set-cookie", ""
    )


def test_the_queue_page_lists_the_reps_leads_in_chinese_and_in_english(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site
    sign_in(client, "alice")
    theirs = client.get("/v1/leads", params={"limit": 1000}, headers=SALES).json()["leads"]
    bobs = {lead["inquiry_id"] for lead in theirs if lead["rep_id"] == "rep_02"}

    chinese = client.get("/queue")
    english = client.get("/queue?lang=en")

    assert chinese.status_code == 200 and "我的询盘" in chinese.text
    assert english.status_code == 200 and "My queue" in english.text
    shown = set(re.findall(r'href="/leads/([^"]+)"', chinese.text))
    assert shown and not shown & bobs
    # the choice of language is remembered
    assert "My queue" in client.get("/queue").text


def test_another_reps_lead_is_not_found_by_url(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site
    theirs = client.get("/v1/leads", params={"rep_id": "rep_02"}, headers=SALES).json()["leads"]
    sign_in(client, "alice")

    response = client.get(f"/leads/{theirs[0]['inquiry_id']}")

    assert response.status_code == 404


def test_a_form_posted_without_the_csrf_token_is_refused_and_with_it_recorded(site) -> None:  # type: ignore[no-untyped-def]
    client, published = site
    lead = client.get("/v1/leads", params={"rep_id": "rep_01"}, headers=SALES).json()["leads"][0]
    sign_in(client, "alice")
    page = client.get(f"/leads/{lead['inquiry_id']}")
    assert page.status_code == 200 and lead["inquiry_id"] in page.text
    form = {"action": "contact", "medium": "phone", "request_id": "page-form-0001"}

    refused = client.post(f"/leads/{lead['inquiry_id']}/actions", data=form)
    recorded = client.post(
        f"/leads/{lead['inquiry_id']}/actions", data={**form, "csrf_token": csrf_of(page.text)}
    )

    assert refused.status_code == 403
    assert recorded.status_code == 303
    assert recorded.headers["location"] == f"/leads/{lead['inquiry_id']}?done=contact"
    (event,) = published
    assert event.event_type == "lead_contacted" and event.rep_id == "rep_01"


def test_lost_from_the_outcome_form_takes_the_lead_back_to_the_queue(site) -> None:  # type: ignore[no-untyped-def]
    client, published = site
    lead = client.get("/v1/leads", params={"rep_id": "rep_01"}, headers=SALES).json()["leads"][1]
    sign_in(client, "alice")
    page = client.get(f"/leads/{lead['inquiry_id']}")
    form = {
        "action": "won",
        "lost_reason": "price",  # the form's list always has one; a win ignores it
        "note": "",
        "request_id": "outcome-0001",
        "csrf_token": csrf_of(page.text),
    }

    response = client.post(f"/leads/{lead['inquiry_id']}/actions", data=form)

    assert response.status_code == 303 and response.headers["location"].startswith("/queue")
    assert published[0].event_type == "inquiry_closed"
    assert published[0].to_record()["payload"] == {"outcome": "won"}


def test_signing_out_ends_the_session(site) -> None:  # type: ignore[no-untyped-def]
    client, _ = site
    sign_in(client, "alice")
    page = client.get("/queue")

    client.post("/logout", data={"csrf_token": csrf_of(page.text)})

    assert client.get("/queue").status_code == 303


# --- ad-hoc SQL -----------------------------------------------------------------------------


@pytest.fixture
def sql_site(sql_home: SqlHome, people: Path, tmp_path: Path) -> Iterator[TestClient]:  # noqa: F811
    app = create_app(
        warehouse_path=sql_home.home / "warehouse.duckdb",
        registry_dir=sql_home.home / "registry",
        api_keys=API_KEYS,
        serving_home=sql_home.home,
        users_path=people,
        saved_queries_path=tmp_path / "saved_queries.json",
    )
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_a_director_opens_the_sql_page_with_the_saved_queries_and_the_tables(
    sql_site: TestClient,
) -> None:
    sign_in(sql_site, "lee")

    page = sql_site.get("/sql")

    assert page.status_code == 200
    assert "自助 SQL 查询" in page.text and 'href="/sql"' in page.text  # in the bar too
    assert '<textarea id="sql-text" name="sql"' in page.text
    for example in shipped_examples():
        assert example.name in page.text
    for table in ("fct_inquiries", "dim_customers", "rpt_kpis"):
        assert f"<code>{table}</code>" in page.text
    assert "quarantined_events" not in page.text and "lead_queue" not in page.text
    assert "Ad-hoc SQL" in sql_site.get("/sql?lang=en").text


@pytest.mark.parametrize("username", ["alice", "mia", "east"])
def test_a_rep_a_manager_or_a_distributor_cannot_open_the_sql_page_nor_sees_its_link(
    sql_site: TestClient, username: str
) -> None:
    sign_in(sql_site, username)

    page = sql_site.get("/sql")
    queue = sql_site.get("/queue")

    assert page.status_code == 403 and "你的角色不能执行此操作" in page.text
    assert 'href="/sql"' not in queue.text
    ran = sql_site.post("/sql", data={"sql": "select 1", "csrf_token": csrf_of(queue.text)})
    assert ran.status_code == 403 and "<table" not in ran.text


def test_an_analyst_saves_a_query_then_runs_it_from_the_list(sql_site: TestClient) -> None:
    sign_in(sql_site, "lee")
    token = csrf_of(sql_site.get("/sql").text)
    sql = "select channel, count(*) as inquiries from fct_inquiries group by 1 order by 1"

    saved = sql_site.post(
        "/sql",
        data={"sql": sql, "action": "save", "name": "渠道询盘", "description": "每个渠道",
              "csrf_token": token},
    )  # fmt: skip
    listed = sql_site.get(saved.headers["location"])
    ran = sql_site.post(f"/sql/saved/{quote('渠道询盘')}/run", data={"csrf_token": token})

    assert saved.status_code == 303
    assert "已保存“渠道询盘”" in listed.text and "每个渠道" in listed.text
    assert sql in html.unescape(listed.text)  # opened in the editor
    assert ran.status_code == 200
    assert "3 行" in ran.text
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", ran.text)
    assert cells == ["alibaba", "10", "own_site", "10", "trade_show", "10"]


def test_a_query_from_the_page_needs_the_sessions_csrf_token(sql_site: TestClient) -> None:
    sign_in(sql_site, "lee")
    token = csrf_of(sql_site.get("/sql").text)

    refused = sql_site.post("/sql", data={"sql": "select 42 as answer"})
    ran = sql_site.post("/sql", data={"sql": "select 42 as answer", "csrf_token": token})

    assert refused.status_code == 403 and "<table" not in refused.text
    assert ran.status_code == 200 and '<td class="num">42</td>' in ran.text


def test_a_refused_query_reads_plainly_in_chinese_and_in_english(sql_site: TestClient) -> None:
    sign_in(sql_site, "lee")
    token = csrf_of(sql_site.get("/sql").text)
    form = {"sql": "select * from raw_events", "csrf_token": token}

    chinese = sql_site.post("/sql", data=form)
    english = sql_site.post("/sql?lang=en", data=form)

    assert chinese.status_code == english.status_code == 400
    assert "raw_events 不是已发布的数据集市表" in chinese.text
    assert "raw_events is not one of the published marts" in english.text
    assert "select * from raw_events" in english.text  # kept in the editor to fix


def test_a_director_deletes_her_own_saved_query_but_not_an_example(sql_site: TestClient) -> None:
    sign_in(sql_site, "lee")
    token = csrf_of(sql_site.get("/sql").text)
    sql_site.post(
        "/sql", data={"sql": "select 1", "action": "save", "name": "scratch", "csrf_token": token}
    )
    page = sql_site.get("/sql").text
    example = shipped_examples()[0].name

    deleted = sql_site.post("/sql/saved/scratch/delete", data={"csrf_token": token})
    kept = sql_site.post(f"/sql/saved/{example}/delete", data={"csrf_token": token})

    assert 'action="/sql/saved/scratch/delete"' in page
    assert f'action="/sql/saved/{example}/delete"' not in page  # no button to press
    assert deleted.status_code == 303
    after = sql_site.get(deleted.headers["location"]).text
    assert "已删除“scratch”" in after and "<b>scratch</b>" not in after
    assert kept.status_code == 403 and example in sql_site.get("/sql").text


def test_the_sql_page_shows_a_thousand_rows_of_a_longer_answer_and_says_so(
    sql_site: TestClient,
) -> None:
    sign_in(sql_site, "lee")
    token = csrf_of(sql_site.get("/sql").text)

    page = sql_site.post("/sql", data={"sql": "select * from range(5000)", "csrf_token": token})

    assert page.status_code == 200
    assert page.text.count("<tr><td") == 1_000
    assert "结果超过 1,000 行，只显示前 1,000 行。" in page.text
