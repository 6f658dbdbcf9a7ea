"""The scoring API: health without a key, keys for the rest, scores and the ranked queue."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from models.errors import ModelIntegrityError
from models.registry import load_champion
from scoring_api.main import create_app

INQUIRY = {
    "channel": "own_site",
    "product_category": "valves",
    "country": "CN",
    "quantity": 20,
    "target_unit_price": 90,
    "list_unit_price": 100,
    "company": "Ningbo Pump Co.",
    "email": "zhang@ningbopump.cn",
    "message": "Please quote 20 valves, DN50.",
}


def test_health_answers_without_a_key_and_says_a_model_is_loaded(client: TestClient):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["model_loaded"] is True and response.json()["scorer"] == "model"


@pytest.mark.parametrize("path", ["/v1/leads", "/v1/score"])
def test_a_request_without_a_key_gets_401_saying_which_header(client: TestClient, path: str):
    response = client.request("POST" if path == "/v1/score" else "GET", path, json=INQUIRY)

    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]


def test_a_request_with_a_wrong_key_gets_401(client: TestClient):
    response = client.get("/v1/leads", headers={"X-API-Key": "not-a-key"})

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}


def test_score_returns_a_probability_a_tier_and_the_model_version(
    client: TestClient, served_home: tuple[Path, Path], sales: dict[str, str]
):
    response = client.post("/v1/score", json=INQUIRY, headers=sales)

    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["probability"] <= 1.0
    assert body["score"] == round(body["probability"] * 100)
    assert body["tier"] in {"A", "B", "C", "D"}
    assert body["model_version"] == load_champion(served_home[1]).version
    assert body["scorer"] == "model"
    assert len(body["reasons"]) == 3 and all(r["text"] for r in body["reasons"])


def test_a_better_priced_inquiry_scores_higher(client: TestClient, sales: dict[str, str]):
    def probability(target_unit_price: float) -> float:
        inquiry = {**INQUIRY, "target_unit_price": target_unit_price}
        return client.post("/v1/score", json=inquiry, headers=sales).json()["probability"]

    assert probability(100) > probability(50)


def test_score_rejects_an_unknown_channel_or_an_unexpected_field(
    client: TestClient, sales: dict[str, str]
):
    unknown_channel = client.post("/v1/score", json={**INQUIRY, "channel": "fax"}, headers=sales)
    outcome_smuggled = client.post("/v1/score", json={**INQUIRY, "outcome": "won"}, headers=sales)

    assert unknown_channel.status_code == 422
    assert outcome_smuggled.status_code == 422


def test_leads_are_open_inquiries_ranked_by_probability(
    client: TestClient, served_home: tuple[Path, Path], sales: dict[str, str]
):
    response = client.get("/v1/leads", params={"limit": 20}, headers=sales)

    assert response.status_code == 200, response.text
    leads = response.json()["leads"]
    probabilities = [lead["probability"] for lead in leads]
    assert len(leads) == response.json()["count"] == 20
    assert probabilities == sorted(probabilities, reverse=True)
    with duckdb.connect(str(served_home[0]), read_only=True) as connection:
        best = connection.sql(
            "select max(probability) from lead_scores join fct_inquiries using (inquiry_id) "
            "where is_open"
        ).fetchone()
    assert best is not None and probabilities[0] == pytest.approx(best[0])
    assert set(leads[0]) == {
        "inquiry_id",
        "submitted_at",
        "channel",
        "company",
        "product_category",
        "probability",
        "score",
        "tier",
        "reasons",
        "scorer",
        "model_version",
        "scored_at",
    }
    assert len(leads[0]["reasons"]) == 3


def test_leads_can_be_filtered_by_tier(client: TestClient, sales: dict[str, str]):
    everything = client.get("/v1/leads", params={"limit": 1000}, headers=sales).json()["leads"]
    tier = everything[-1]["tier"]

    response = client.get("/v1/leads", params={"tier": tier, "limit": 1000}, headers=sales)

    assert response.status_code == 200
    leads = response.json()["leads"]
    assert leads and {lead["tier"] for lead in leads} == {tier}
    assert len(leads) == sum(lead["tier"] == tier for lead in everything)


def test_without_a_trained_model_health_says_so_and_scores_come_from_the_scorecard(
    tmp_path: Path,
    served_home: tuple[Path, Path],
    sales: dict[str, str],
    api_keys: dict[str, str],
):
    app = create_app(
        warehouse_path=served_home[0], registry_dir=tmp_path / "empty", api_keys=api_keys
    )
    with TestClient(app) as client:
        health = client.get("/health").json()
        scored = client.post("/v1/score", json=INQUIRY, headers=sales)

    assert health == {
        "status": "ok",
        "model_loaded": False,
        "scorer": "scorecard",
        "model_version": "scorecard-v1",
    }
    assert scored.status_code == 200
    assert scored.json()["scorer"] == "scorecard" and len(scored.json()["reasons"]) == 3


def test_leads_before_the_warehouse_exists_answer_503(
    tmp_path: Path, served_home: tuple[Path, Path], sales: dict[str, str], api_keys: dict[str, str]
):
    app = create_app(
        warehouse_path=tmp_path / "missing.duckdb", registry_dir=served_home[1], api_keys=api_keys
    )
    with TestClient(app) as client:
        response = client.get("/v1/leads", headers=sales)

    assert response.status_code == 503
    assert not (tmp_path / "missing.duckdb").exists()


def test_the_api_never_writes_the_warehouse(
    client: TestClient, served_home: tuple[Path, Path], sales: dict[str, str]
):
    warehouse = served_home[0]
    before = (warehouse.stat().st_mtime_ns, warehouse.read_bytes())

    client.get("/v1/leads", headers=sales)
    client.post("/v1/score", json=INQUIRY, headers=sales)

    assert (warehouse.stat().st_mtime_ns, warehouse.read_bytes()) == before


def test_create_app_refuses_an_unknown_role(served_home: tuple[Path, Path]):
    with pytest.raises(ValueError, match="unknown roles"):
        create_app(
            warehouse_path=served_home[0], registry_dir=served_home[1], api_keys={"k": "root"}
        )


def test_the_api_does_not_start_with_a_changed_model_file(
    tmp_path: Path, served_home: tuple[Path, Path], api_keys: dict[str, str]
):
    registry = Path(shutil.copytree(served_home[1], tmp_path / "registry"))
    model_path = next(registry.glob("*/model.skops"))
    model_path.write_bytes(model_path.read_bytes() + b"\0")
    app = create_app(warehouse_path=served_home[0], registry_dir=registry, api_keys=api_keys)

    with pytest.raises(ModelIntegrityError), TestClient(app):
        pass
