"""The workspace's pages over the app: signing in, the queue a rep may see, a lead, forms
that need the session's CSRF token, Chinese by default and English on request."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestion.contracts import Event
from scoring_api.auth import SESSION_COOKIE
from scoring_api.main import create_app
from tests.scoring_api.conftest import API_KEYS, SALES
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
