"""Ad-hoc SQL over the API: leadership and admins run one read-only SELECT over the
published marts and keep the queries they save; every other role is refused; each answer
and refusal is the documented one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadflow.users import Users
from scoring_api.auth import CSRF_HEADER, SESSION_COOKIE
from scoring_api.main import create_app
from scoring_api.saved_queries import shipped_examples
from scoring_api.sql_box import SqlLimits
from tests.scoring_api.conftest import SqlHome

PASSWORD = "correct horse battery"
KEYS = {
    "admin-key-0123456789": "admin",
    "sales-key-0123456789": "sales",
    "ingest-key-0123456789": "ingest",
}
ADMIN_KEY = {"X-API-Key": "admin-key-0123456789"}
COUNT = {"sql": "select channel, count(*) as inquiries from fct_inquiries group by 1 order by 1"}


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two directors, an admin, a manager and a rep."""
    path = tmp_path_factory.mktemp("sql-people") / "users.sqlite"
    users = Users(path)
    users.add("lee", role="leadership", password=PASSWORD)
    users.add("kim", role="leadership", password=PASSWORD)
    users.add("ada", role="admin", password=PASSWORD)
    users.add("mia", role="manager", password=PASSWORD)
    users.add("alice", role="rep", rep_id="rep_01", password=PASSWORD)
    return path


class Analyst:
    """A client of the app over the published home, and the people who sign in to it."""

    def __init__(self, client: TestClient, users: Users) -> None:
        self.client = client
        self.users = users

    def person(self, username: str) -> dict[str, str]:
        """Headers of `username`'s session: its cookie and its CSRF token."""
        session, token = self.users.sign_in(username, PASSWORD, client="test")
        return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: session.csrf_token}


def analyst_for(home: Path, people: Path, saved: Path, limits: SqlLimits) -> Iterator[Analyst]:
    app = create_app(
        warehouse_path=home / "warehouse.duckdb",
        registry_dir=home / "registry",
        api_keys=KEYS,
        serving_home=home,
        users_path=people,
        sql_limits=limits,
        saved_queries_path=saved,
    )
    with TestClient(app) as client:
        yield Analyst(client, Users(people))


@pytest.fixture
def analyst(sql_home: SqlHome, people: Path, tmp_path: Path) -> Iterator[Analyst]:
    yield from analyst_for(
        sql_home.home, people, tmp_path / "saved_queries.json", SqlLimits(row_cap=20)
    )


def test_leadership_and_admins_run_sql_and_no_other_role_does(analyst: Analyst) -> None:
    allowed = [analyst.person("lee"), analyst.person("ada"), ADMIN_KEY]
    refused = [
        analyst.person("mia"),
        analyst.person("alice"),
        {"X-API-Key": "sales-key-0123456789"},
        {"X-API-Key": "ingest-key-0123456789"},
    ]

    for headers in allowed:
        assert analyst.client.post("/v1/sql", json=COUNT, headers=headers).status_code == 200
        assert analyst.client.get("/v1/sql/saved", headers=headers).status_code == 200
    for headers in refused:
        for answer in (
            analyst.client.post("/v1/sql", json=COUNT, headers=headers),
            analyst.client.get("/v1/sql/saved", headers=headers),
            analyst.client.get("/v1/sql/tables", headers=headers),
            analyst.client.post(f"/v1/sql/saved/{shipped_examples()[0].name}/run", headers=headers),
        ):
            assert answer.status_code == 403, answer.text
            assert "leadership" in answer.json()["detail"]
    assert analyst.client.post("/v1/sql", json=COUNT).status_code == 401


def test_a_directors_query_without_the_sessions_csrf_token_is_refused(analyst: Analyst) -> None:
    headers = analyst.person("lee")
    del headers[CSRF_HEADER]

    answer = analyst.client.post("/v1/sql", json=COUNT, headers=headers)

    assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]


def test_a_query_answers_with_its_columns_rows_and_timing(analyst: Analyst) -> None:
    answer = analyst.client.post("/v1/sql", json=COUNT, headers=analyst.person("lee"))

    assert answer.status_code == 200
    body = answer.json()
    assert body["columns"] == [
        {"name": "channel", "type": "VARCHAR"},
        {"name": "inquiries", "type": "BIGINT"},
    ]
    assert body["rows"] == [["alibaba", 10], ["own_site", 10], ["trade_show", 10]]
    assert body["row_count"] == 3 and body["truncated"] is False and body["row_cap"] == 20
    assert body["elapsed_ms"] >= 0 and body["marts_published_at"]


def test_the_row_cap_cuts_a_long_answer_and_says_so(analyst: Analyst) -> None:
    answer = analyst.client.post(
        "/v1/sql", json={"sql": "select inquiry_id from fct_inquiries"}, headers=ADMIN_KEY
    ).json()

    assert answer["row_count"] == 20 and len(answer["rows"]) == 20
    assert answer["truncated"] is True


def test_a_refused_query_is_a_400_naming_the_reason(analyst: Analyst) -> None:
    answer = analyst.client.post(
        "/v1/sql", json={"sql": "select * from read_csv('/etc/passwd')"}, headers=ADMIN_KEY
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "detail": "the table function read_csv() is not allowed; only range, generate_series, "
        "unnest, json_each and json_tree are",
        "reason": "table_function",
    }


def test_a_query_stopped_at_the_time_limit_says_so(
    sql_home: SqlHome, people: Path, tmp_path: Path
) -> None:
    limits = SqlLimits(time_limit_s=0.5)
    for analyst in analyst_for(sql_home.home, people, tmp_path / "saved.json", limits):
        answer = analyst.client.post(
            "/v1/sql",
            json={
                "sql": "with recursive r(n) as (select 1 union all select n + 1 from r) "
                "select count(*) from r"
            },  # fmt: skip
            headers=ADMIN_KEY,
        )

        assert answer.status_code == 400
        assert answer.json() == {
            "detail": "stopped at the time limit of 0.5 s",
            "reason": "time_limit",
        }


def test_a_query_too_long_is_a_413_in_characters_but_a_long_one_within_the_limit_runs(
    analyst: Analyst,
) -> None:
    # within the limit, whatever its encoding: 15,000 Chinese characters are 90 KB of JSON,
    # far past the 16 KiB every other endpoint reads
    within = "select 1 as one /* " + "询" * 15_000 + " */"
    beyond = "select 1 as one /* " + "询" * 20_000 + " */"

    body = json.dumps({"sql": within})  # ASCII: each character escaped in 6 bytes
    ran = analyst.client.post(
        "/v1/sql", content=body, headers={**ADMIN_KEY, "Content-Type": "application/json"}
    )
    refused = analyst.client.post("/v1/sql", json={"sql": beyond}, headers=ADMIN_KEY)

    assert ran.status_code == 200, ran.text
    assert refused.status_code == 413
    assert refused.json() == {"detail": "the query is 20,022 characters long; the limit is 20,000"}


def test_the_tables_are_the_marts_with_their_columns_and_nothing_else(analyst: Analyst) -> None:
    body = analyst.client.get("/v1/sql/tables", headers=ADMIN_KEY).json()

    tables = {table["name"]: table["columns"] for table in body["tables"]}
    assert set(tables) == {"fct_inquiries", "dim_customers", "rpt_kpis"}
    assert {"name": "channel", "type": "VARCHAR"} in tables["fct_inquiries"]


def test_nothing_runs_before_the_marts_are_published(people: Path, tmp_path: Path) -> None:
    for analyst in analyst_for(tmp_path, people, tmp_path / "saved.json", SqlLimits()):
        answers = [
            analyst.client.post("/v1/sql", json=COUNT, headers=ADMIN_KEY),
            analyst.client.get("/v1/sql/tables", headers=ADMIN_KEY),
        ]

        for answer in answers:
            assert answer.status_code == 503
            assert "no marts are published yet" in answer.json()["detail"]


def test_a_saved_query_round_trips_and_only_its_owner_or_an_admin_deletes_it(
    analyst: Analyst,
) -> None:
    lee, kim, ada = analyst.person("lee"), analyst.person("kim"), analyst.person("ada")
    query = {"name": "询盘 by channel", "description": "每个渠道", "sql": COUNT["sql"]}

    created = analyst.client.post("/v1/sql/saved", json=query, headers=lee)
    again = analyst.client.post("/v1/sql/saved", json=query, headers=kim)
    listed = analyst.client.get("/v1/sql/saved", headers=kim).json()["queries"]
    ran = analyst.client.post("/v1/sql/saved/询盘 by channel/run", headers=kim)
    not_kims = analyst.client.delete("/v1/sql/saved/询盘 by channel", headers=kim)
    lees = analyst.client.delete("/v1/sql/saved/询盘 by channel", headers=lee)
    gone = analyst.client.post("/v1/sql/saved/询盘 by channel/run", headers=kim)
    example = shipped_examples()[0].name
    not_an_example_for_lee = analyst.client.delete(f"/v1/sql/saved/{example}", headers=lee)
    an_example_for_ada = analyst.client.delete(f"/v1/sql/saved/{example}", headers=ada)

    assert created.status_code == 201
    assert created.json()["owner"] == "lee" and created.json()["created_at"]
    assert again.status_code == 409 and "already" in again.json()["detail"]
    mine = next(saved for saved in listed if saved["name"] == "询盘 by channel")
    assert mine == created.json()
    assert {saved["name"] for saved in listed} >= {q.name for q in shipped_examples()}
    assert ran.status_code == 200 and ran.json()["rows"] == [
        ["alibaba", 10],
        ["own_site", 10],
        ["trade_show", 10],
    ]
    assert not_kims.status_code == 403 and "lee" in not_kims.json()["detail"]
    assert lees.status_code == 204
    assert gone.status_code == 404
    assert not_an_example_for_lee.status_code == 403
    assert an_example_for_ada.status_code == 204


def test_a_query_the_box_refuses_is_not_saved(analyst: Analyst) -> None:
    answer = analyst.client.post(
        "/v1/sql/saved",
        json={"name": "leak", "sql": "select * from raw_events"},
        headers=ADMIN_KEY,
    )

    assert answer.status_code == 400 and answer.json()["reason"] == "unknown_table"
    names = [
        q["name"] for q in analyst.client.get("/v1/sql/saved", headers=ADMIN_KEY).json()["queries"]
    ]
    assert "leak" not in names


def test_a_name_that_cannot_be_a_path_is_refused(analyst: Analyst) -> None:
    for name in ("", "..", "a/b", " leading", "x" * 81):
        answer = analyst.client.post(
            "/v1/sql/saved", json={"name": name, "sql": "select 1"}, headers=ADMIN_KEY
        )
        assert answer.status_code == 422, name


def test_the_openapi_document_declares_every_answer_of_the_sql_routes(analyst: Analyst) -> None:
    paths = analyst.client.get("/openapi.json").json()["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    common = {"401", "403", "422", "503"}
    assert statuses("/v1/sql", "post") == common | {"200", "400", "413"}
    assert statuses("/v1/sql/tables", "get") == common | {"200"}
    assert statuses("/v1/sql/saved", "get") == common | {"200"}
    assert statuses("/v1/sql/saved", "post") == common | {"201", "400", "409", "413"}
    assert statuses("/v1/sql/saved/{name}", "delete") == common | {"204", "404"}
    assert statuses("/v1/sql/saved/{name}/run", "post") == common | {"200", "400", "404", "413"}
