"""The sales workspace's JSON: people sign in, a rep sees their own and unassigned leads
only, actions become contract events once, and forms need the session's CSRF token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestion.contracts import Event, parse_event
from leadflow.users import Users
from scoring_api.auth import CSRF_HEADER, SESSION_COOKIE
from scoring_api.main import create_app
from tests.scoring_api.conftest import API_KEYS, SALES

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user store with two reps, a manager, a director and a distributor."""
    path = tmp_path_factory.mktemp("people") / "users.sqlite"
    users = Users(path)
    users.add("alice", role="rep", rep_id="rep_01", password=PASSWORD, display_name="Alice")
    users.add("bob", role="rep", rep_id="rep_02", password=PASSWORD, display_name="Bob")
    users.add("mia", role="manager", password=PASSWORD, display_name="Mia")
    users.add("lee", role="leadership", password=PASSWORD, display_name="Lee")
    users.add("east", role="distributor", distributor_id="dist_east", password=PASSWORD)
    return path


class Workspace:
    """A client of the app with a user store, recording what it publishes."""

    def __init__(self, client: TestClient, users: Users, published: list[Event]) -> None:
        self.client = client
        self.users = users
        self.published = published

    def signed_in(self, username: str) -> dict[str, str]:
        """Headers of `username`'s session: its cookie and its CSRF token."""
        session, token = self.users.sign_in(username, PASSWORD, client="test")
        return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: session.csrf_token}

    def leads(self, headers: dict[str, str], **params: Any) -> dict[str, Any]:
        response = self.client.get("/v1/leads", params={"limit": 1000, **params}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def workspace(served_home: tuple[Path, Path], people: Path) -> Iterator[Workspace]:
    published: list[Event] = []

    def publish(events: Sequence[Event]) -> None:
        published.extend(events)

    warehouse, registry = served_home
    app = create_app(
        warehouse_path=warehouse,
        registry_dir=registry,
        api_keys=API_KEYS,
        publish_events=publish,
        users_path=people,
    )
    with TestClient(app) as client:
        yield Workspace(client, Users(people), published)


def test_a_rep_sees_their_own_and_unassigned_leads_only(workspace: Workspace) -> None:
    everything = workspace.leads(SALES)
    mine = workspace.leads(workspace.signed_in("alice"))

    assert everything["total"] > mine["total"] > 0
    assert all(lead["owner_type"] is None or lead["rep_id"] == "rep_01" for lead in mine["leads"])
    expected = [
        lead["inquiry_id"]
        for lead in everything["leads"]
        if lead["owner_type"] is None or lead["rep_id"] == "rep_01"
    ]
    assert [lead["inquiry_id"] for lead in mine["leads"]] == expected


def test_a_rep_cannot_open_or_act_on_another_reps_lead_by_guessing_its_id(
    workspace: Workspace,
) -> None:
    bobs = workspace.leads(SALES, rep_id="rep_02")["leads"][0]["inquiry_id"]
    alice = workspace.signed_in("alice")

    opened = workspace.client.get(f"/v1/leads/{bobs}", headers=alice)
    customer = workspace.client.get(f"/v1/leads/{bobs}/customer", headers=alice)
    acted = workspace.client.post(
        f"/v1/leads/{bobs}/actions",
        json={"action": "contact", "request_id": "guess-0001", "medium": "phone"},
        headers=alice,
    )

    assert opened.status_code == 404 and acted.status_code == 404
    assert customer.status_code == 404
    assert workspace.published == []
    # the same id opens for its owner
    owner = workspace.client.get(f"/v1/leads/{bobs}", headers=workspace.signed_in("bob"))
    assert owner.status_code == 200


def test_a_distributor_sees_only_the_leads_handed_to_them(workspace: Workspace) -> None:
    theirs = workspace.leads(workspace.signed_in("east"))

    assert theirs["total"] == workspace.leads(SALES, distributor_id="dist_east")["total"] > 0
    assert {lead["distributor_id"] for lead in theirs["leads"]} == {"dist_east"}


def test_a_lead_shows_the_buyer_what_they_asked_and_the_follow_up_deadline(
    workspace: Workspace,
) -> None:
    lead = workspace.leads(SALES, tier="A")["leads"][0]

    detail = workspace.client.get(f"/v1/leads/{lead['inquiry_id']}", headers=SALES).json()

    assert detail["email"].endswith(".com") and detail["quantity"] >= 1
    assert detail["message"] is not None and detail["currency"] == "CNY"
    submitted = dt.datetime.fromisoformat(detail["submitted_at"])
    due = dt.datetime.fromisoformat(detail["follow_up_due_at"])
    assert due - submitted == dt.timedelta(hours=2)  # tier A's default deadline
    assert detail["overdue"] == (
        detail["first_contacted_at"] is None and due < dt.datetime.now(dt.UTC)
    )


def test_pages_of_the_queue_add_up_to_the_whole(workspace: Workspace) -> None:
    whole = workspace.leads(SALES)
    pages = [workspace.leads(SALES, limit=25, offset=offset) for offset in range(0, 150, 25)]

    assert all(page["total"] == whole["total"] for page in pages)
    assert [lead["inquiry_id"] for page in pages for lead in page["leads"]] == [
        lead["inquiry_id"] for lead in whole["leads"][:150]
    ]


def test_filters_narrow_the_queue(workspace: Workspace) -> None:
    by_channel = workspace.leads(SALES, channel="phone")
    uncontacted_late = workspace.leads(SALES, overdue=True)

    assert by_channel["total"] > 0
    assert {lead["channel"] for lead in by_channel["leads"]} == {"phone"}
    assert all(lead["first_contacted_at"] is None for lead in uncontacted_late["leads"])
    assert (
        workspace.leads(SALES, overdue=False)["total"] + uncontacted_late["total"]
        == (workspace.leads(SALES)["total"])
    )


def test_an_action_is_a_contract_event_recorded_once_however_often_it_is_sent(
    workspace: Workspace,
) -> None:
    lead = workspace.leads(SALES, rep_id="rep_01")["leads"][0]["inquiry_id"]
    alice = workspace.signed_in("alice")
    body = {"action": "lost", "request_id": "form-7f3a9c21", "lost_reason": "price"}

    first = workspace.client.post(f"/v1/leads/{lead}/actions", json=body, headers=alice)
    again = workspace.client.post(f"/v1/leads/{lead}/actions", json=body, headers=alice)

    assert first.status_code == again.status_code == 202, first.text
    assert first.json() == again.json()
    sent = [event.to_record() for event in workspace.published]
    # the same event, by id: the warehouse keeps the first copy of an id
    assert sent[0]["event_id"] == sent[1]["event_id"]
    assert {**sent[0], "occurred_at": None} == {**sent[1], "occurred_at": None}
    assert sent[0]["event_type"] == "inquiry_closed" and sent[0]["rep_id"] == "rep_01"
    assert sent[0]["payload"] == {"outcome": "lost", "lost_reason": "price"}
    # what is published passes the contract at the consumer's door too
    assert parse_event(sent[0]).event_id == first.json()["event_id"]


def test_a_signed_in_request_without_the_csrf_token_is_refused(workspace: Workspace) -> None:
    lead = workspace.leads(SALES, rep_id="rep_01")["leads"][0]["inquiry_id"]
    alice = workspace.signed_in("alice")
    del alice[CSRF_HEADER]

    refused = workspace.client.post(
        f"/v1/leads/{lead}/actions",
        json={"action": "contact", "request_id": "no-token-01", "medium": "wechat"},
        headers=alice,
    )

    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert workspace.published == []


def test_a_manager_reassigns_a_lead_and_a_rep_may_not(workspace: Workspace) -> None:
    lead = workspace.leads(SALES, rep_id="rep_01")["leads"][0]["inquiry_id"]
    body = {
        "action": "assign",
        "request_id": "assign-0001",
        "assignee_type": "rep",
        "assignee_id": "rep_02",
    }

    by_rep = workspace.client.post(
        f"/v1/leads/{lead}/actions", json=body, headers=workspace.signed_in("alice")
    )
    by_manager = workspace.client.post(
        f"/v1/leads/{lead}/actions", json=body, headers=workspace.signed_in("mia")
    )

    assert by_rep.status_code == 403
    assert by_manager.status_code == 202
    (event,) = workspace.published
    assert event.event_type == "lead_assigned" and event.rep_id == "rep_02"


def test_leadership_reads_the_queue_but_records_nothing(workspace: Workspace) -> None:
    lee = workspace.signed_in("lee")
    lead = workspace.leads(lee)["leads"][0]["inquiry_id"]

    refused = workspace.client.post(
        f"/v1/leads/{lead}/actions",
        json={"action": "won", "request_id": "won-000001"},
        headers=lee,
    )

    assert refused.status_code == 403


def test_an_expired_or_unknown_session_gets_401(workspace: Workspace) -> None:
    response = workspace.client.get(
        "/v1/leads", headers={"Cookie": f"{SESSION_COOKIE}=not-a-session"}
    )

    assert response.status_code == 401


def test_the_team_view_measures_each_handler_and_is_for_managers(workspace: Workspace) -> None:
    team = workspace.client.get("/v1/team", params={"days": 3660}, headers=SALES)
    by_rep = workspace.client.get("/v1/team", headers=workspace.signed_in("alice"))
    by_manager = workspace.client.get("/v1/team", headers=workspace.signed_in("mia"))

    assert team.status_code == 200 and by_manager.status_code == 200, team.text
    assert by_rep.status_code == 403
    body = team.json()
    handlers = {h["handler_id"]: h for h in body["handlers"]}
    assert {"rep_01", "dist_east"} <= set(handlers)
    for handler in handlers.values():
        closed = handler["won"] + handler["lost"]
        assert handler["win_rate"] == (pytest.approx(handler["won"] / closed) if closed else None)
    assert body["overdue"] == sum(body["overdue_by_tier"].values())
    assert body["overdue"] == workspace.leads(SALES, overdue=True)["total"]


def test_a_note_is_a_contract_event_of_its_own(workspace: Workspace) -> None:
    lead = workspace.leads(SALES, rep_id="rep_01")["leads"][0]["inquiry_id"]

    response = workspace.client.post(
        f"/v1/leads/{lead}/actions",
        json={"action": "note", "request_id": "note-000001", "note": "预算下月批\n再跟进"},
        headers=workspace.signed_in("alice"),
    )

    assert response.status_code == 202, response.text
    (event,) = workspace.published
    record = event.to_record()
    assert record["event_type"] == "note_added" and record["source"] == "sales"
    assert record["payload"] == {"note": "预算下月批\n再跟进"}
    assert parse_event(record).event_id == response.json()["event_id"]
