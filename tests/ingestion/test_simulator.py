"""Scenarios for the event simulator: deterministic, accounted for, realistic, honest."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ingestion.contracts import ContractViolation, Event, decode_event, encode_event
from ingestion.simulation.conversion import (
    PRICE_RATIO_BOUNDS,
    PRICE_RATIO_SD,
    InquiryFacts,
    decide,
)
from ingestion.simulation.faults import FAULT_KINDS, malformed_line
from ingestion.simulation.randomness import Draws
from ingestion.simulation.world import CHANNEL_BY_NAME, build_world
from ingestion.simulator import SimulationReport, estimate_events, roc_auc, simulate


@dataclass(frozen=True)
class Scale:
    """How much to simulate."""

    years: float
    inquiries_per_year: int


SMALL = Scale(years=0.5, inquiries_per_year=2000)
MID = Scale(years=1.0, inquiries_per_year=3000)
MARKETPLACES = {"alibaba", "made_in_china", "1688"}


@dataclass(frozen=True)
class Run:
    """One simulation's outputs, decoded."""

    report: SimulationReport
    events_path: Path
    truth_path: Path
    lines: list[bytes]
    events: list[Event]  # distinct valid events, in file order
    truth: dict[str, tuple[float, bool]]
    progressed: int


def _simulate(directory: Path, seed: int, scale: Scale, **options: Any) -> SimulationReport:
    return simulate(
        directory / "events.jsonl",
        directory / "truth.csv",
        seed=seed,
        years=scale.years,
        inquiries_per_year=scale.inquiries_per_year,
        **options,
    )


def _payload(event: Event) -> dict[str, Any]:
    return event.payload.model_dump(mode="json")


def _run(directory: Path, seed: int, scale: Scale) -> Run:
    events_path, truth_path = directory / "events.jsonl", directory / "truth.csv"
    ticks: list[int] = []
    report = _simulate(directory, seed, scale, progress=ticks.append)
    lines = events_path.read_bytes().splitlines()
    seen: set[str] = set()
    events = []
    for line in lines:
        try:
            event = decode_event(line)
        except ContractViolation:
            continue
        if event.event_id not in seen:
            seen.add(event.event_id)
            events.append(event)
    with truth_path.open(newline="") as handle:
        truth = {
            row["inquiry_id"]: (float(row["true_probability"]), row["converted"] == "1")
            for row in csv.DictReader(handle)
        }
    return Run(report, events_path, truth_path, lines, events, truth, sum(ticks))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("small"), 11, SMALL)


@pytest.fixture(scope="module")
def mid(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("mid"), 7, MID)


def _of_type(run: Run, event_type: str) -> list[Event]:
    return [event for event in run.events if event.event_type == event_type]


def test_same_seed_writes_byte_identical_files(small: Run, tmp_path: Path) -> None:
    _simulate(tmp_path, 11, SMALL)
    assert (tmp_path / "events.jsonl").read_bytes() == small.events_path.read_bytes()
    assert (tmp_path / "truth.csv").read_bytes() == small.truth_path.read_bytes()


def test_a_different_seed_writes_different_events(small: Run, tmp_path: Path) -> None:
    _simulate(tmp_path, 12, SMALL)
    assert (tmp_path / "events.jsonl").read_bytes() != small.events_path.read_bytes()
    assert (tmp_path / "truth.csv").read_bytes() != small.truth_path.read_bytes()


def test_every_line_is_valid_a_duplicate_or_deliberately_malformed(small: Run) -> None:
    valid: dict[str, bytes] = {}
    duplicates = malformed = 0
    reasons: Counter[str] = Counter()
    for line in small.lines:
        assert line, "no blank lines"
        try:
            event = decode_event(line)
        except ContractViolation as violation:
            malformed += 1
            reasons[violation.reason] += 1
            continue
        if event.event_id in valid:
            assert valid[event.event_id] == line, "a duplicate is an exact copy"
            duplicates += 1
        else:
            valid[event.event_id] = line
    report = small.report
    assert report.events_written == len(small.lines) == small.progressed
    assert report.events_written == report.valid_events + report.duplicates + report.malformed
    assert (report.valid_events, report.duplicates, report.malformed) == (
        len(valid),
        duplicates,
        malformed,
    )
    assert 0.005 < duplicates / len(valid) < 0.02
    assert 0.001 < malformed / len(valid) < 0.006
    assert {"malformed_json", "unknown_event_type", "invalid_fields"} <= set(reasons)


def test_valid_lines_are_exactly_what_the_contract_encodes(small: Run) -> None:
    for line in small.lines[:3000]:
        try:
            event = decode_event(line)
        except ContractViolation:
            continue
        assert encode_event(event) == line


def test_every_fault_kind_breaks_every_event_type(mid: Run) -> None:
    # returns are rare (a few per thousand inquiries): a year's run has every event type
    draws = Draws(np.random.default_rng(0))
    samples = {event.event_type: event for event in mid.events}
    assert len(samples) == 17, "the simulation emits every event type of the catalogue"
    for event in samples.values():
        record = event.to_record()
        for kind in FAULT_KINDS:
            for _ in range(5):
                line = malformed_line(record, event.occurred_at, kind, draws)
                with pytest.raises(ContractViolation):
                    decode_event(line)


def test_the_true_probability_stays_out_of_the_event_stream(small: Run) -> None:
    assert b"true_probability" not in small.events_path.read_bytes()
    header = small.truth_path.read_text().splitlines()[0]
    assert header == "inquiry_id,true_probability,converted,buyer_id"
    assert b"buyer_id" not in small.events_path.read_bytes()
    submitted = {event.inquiry_id for event in _of_type(small, "inquiry_submitted")}
    assert submitted == set(small.truth)
    assert small.report.inquiries == len(small.truth)
    assert all(0.0 < p < 1.0 for p, _ in small.truth.values())


def test_conversion_rate_is_plausible(mid: Run) -> None:
    rate = sum(converted for _, converted in mid.truth.values()) / len(mid.truth)
    assert 0.10 <= rate <= 0.20
    mean_probability = sum(p for p, _ in mid.truth.values()) / len(mid.truth)
    assert abs(mean_probability - rate) < 0.02, "probabilities are calibrated"


def test_best_achievable_auc_is_realistic_and_correctly_computed(mid: Run) -> None:
    probabilities = [p for p, _ in mid.truth.values()]
    outcomes = [converted for _, converted in mid.truth.values()]
    assert 0.75 <= mid.report.best_achievable_auc <= 0.92
    # The truth file is rounded to 6 decimals; the report uses full precision.
    assert mid.report.best_achievable_auc == pytest.approx(
        roc_auc_score(outcomes, probabilities), abs=1e-3
    )


def test_lost_reasons_are_dominated_by_price(mid: Run) -> None:
    reasons = Counter(
        _payload(event)["lost_reason"]
        for event in _of_type(mid, "inquiry_closed")
        if _payload(event)["outcome"] == "lost"
    )
    lost = sum(reasons.values())
    assert reasons.most_common(1)[0][0] == "price"
    assert 0.6 <= reasons["price"] / lost <= 0.8
    product_fit = reasons["product_unavailable"] + reasons["customization_infeasible"]
    assert 0.1 <= product_fit / lost <= 0.3
    assert reasons["distributor_conflict"] > 0 and reasons["slow_response"] > 0


def test_price_losses_were_quoted_well_above_the_target(mid: Run) -> None:
    lost_on_price = {
        event.inquiry_id
        for event in _of_type(mid, "inquiry_closed")
        if _payload(event)["lost_reason"] == "price"
    }
    targets = {
        event.inquiry_id: _payload(event)["target_unit_price"]
        for event in _of_type(mid, "inquiry_submitted")
    }
    gaps = [
        _payload(event)["unit_price"] / targets[event.inquiry_id]
        for event in _of_type(mid, "quote_sent")
        if event.inquiry_id in lost_on_price and targets[event.inquiry_id]
    ]
    assert gaps and min(gaps) >= 1.05


def test_converted_means_an_order_linked_within_90_days(mid: Run) -> None:
    submitted = {str(e.inquiry_id): e.occurred_at for e in _of_type(mid, "inquiry_submitted")}
    linked = [e for e in _of_type(mid, "order_placed") if e.inquiry_id is not None]
    for order in linked:
        inquiry_id = str(order.inquiry_id)
        assert mid.truth[inquiry_id][1], "only converted inquiries get orders"
        assert order.occurred_at - submitted[inquiry_id] < dt.timedelta(days=90)
    for closed in _of_type(mid, "inquiry_closed"):
        won = _payload(closed)["outcome"] == "won"
        assert won == mid.truth[str(closed.inquiry_id)][1]
    newest = max(e.occurred_at for e in mid.events)
    mature = {i for i, at in submitted.items() if newest - at > dt.timedelta(days=120)}
    ordered = {order.inquiry_id for order in linked}
    assert all(i in ordered for i in mature if mid.truth[i][1]), "mature conversions show up"
    assert any(order.inquiry_id is None for order in _of_type(mid, "order_placed")), "reorders"


def test_recent_inquiries_are_left_open_for_scoring(mid: Run) -> None:
    settled = {e.inquiry_id for e in _of_type(mid, "inquiry_closed")}
    settled |= {e.inquiry_id for e in _of_type(mid, "order_placed")}
    submitted = {e.inquiry_id: e.occurred_at for e in _of_type(mid, "inquiry_submitted")}
    newest = max(submitted.values())
    recent = [i for i, at in submitted.items() if newest - at < dt.timedelta(days=30)]
    old = [i for i, at in submitted.items() if newest - at > dt.timedelta(days=120)]
    assert sum(i not in settled for i in recent) / len(recent) > 0.3
    assert sum(i not in settled for i in old) / len(old) < 0.08


def test_own_site_inquiries_carry_the_visitor_and_marketplaces_do_not(mid: Run) -> None:
    first_seen: dict[str, dt.datetime] = {}
    for event in mid.events:
        if event.source == "web" and event.anonymous_id and event.event_type != "inquiry_submitted":
            seen = first_seen.get(event.anonymous_id)
            first_seen[event.anonymous_id] = min(seen or event.occurred_at, event.occurred_at)
    for inquiry in _of_type(mid, "inquiry_submitted"):
        channel = _payload(inquiry)["channel"]
        if channel == "own_site":
            assert inquiry.anonymous_id is not None
            assert first_seen[inquiry.anonymous_id] < inquiry.occurred_at
        elif channel in MARKETPLACES:
            assert inquiry.anonymous_id is None
        assert inquiry.email or inquiry.phone


def test_buyers_identity_is_written_slightly_differently_across_systems(mid: Run) -> None:
    phones = {event.phone for event in mid.events if event.phone}
    assert any(phone.startswith("+86 ") for phone in phones)
    assert any(phone.isdigit() and len(phone) == 11 for phone in phones)
    orders = _of_type(mid, "order_placed")
    assert all(order.account_id and (order.email or order.phone) for order in orders)
    accounts = Counter(order.account_id for order in orders)
    assert any(count > 1 for count in accounts.values()), "some customers buy again"


def test_shipments_sometimes_go_wrong(mid: Run) -> None:
    shipments = len(_of_type(mid, "shipment_created"))
    exceptions = {_payload(e)["exception_type"] for e in _of_type(mid, "shipment_exception")}
    assert 0.04 < len(_of_type(mid, "shipment_exception")) / shipments < 0.14
    assert exceptions == {"wrong_item", "damaged", "lost", "delayed", "address_issue"}
    assert _of_type(mid, "return_received")


def test_some_events_arrive_late_but_the_file_is_roughly_in_time_order(mid: Run) -> None:
    latest = mid.events[0].occurred_at
    late = 0
    for event in mid.events:
        if event.occurred_at < latest - dt.timedelta(hours=1):
            late += 1
        latest = max(latest, event.occurred_at)
    assert 0.005 < late / len(mid.events) < 0.05


def test_event_volume_matches_the_estimate(small: Run, mid: Run) -> None:
    for run, scale in ((small, SMALL), (mid, MID)):
        estimate = estimate_events(scale.years, scale.inquiries_per_year)
        assert abs(run.report.events_written - estimate) / estimate < 0.15


def test_roc_auc_uses_mean_ranks_for_ties() -> None:
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert roc_auc([0.5, 0.5, 0.5], [True, False, True]) == 0.5
    assert roc_auc([0.2, 0.9], [False, True]) == 1.0
    assert np.isnan(roc_auc([0.2, 0.9], [True, True]))


def test_a_scale_of_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        _simulate(tmp_path, 1, Scale(years=0.0, inquiries_per_year=100))


@pytest.mark.parametrize("states_a_target", [True, False], ids=["target", "no_target"])
def test_the_true_probability_is_the_conversion_rate_of_inquiries_that_look_the_same(
    states_a_target: bool,
):
    # The truth is the best any model of the event log can do: inquiries identical in every
    # recorded fact convert at exactly that rate, whatever the unrecorded noise and (without
    # a target price) whatever price the buyer would accept.
    world = build_world()
    profile = CHANNEL_BY_NAME["alibaba"]
    handler = world.reps[0]
    draws = Draws(np.random.default_rng(1))
    typical = profile.price_ratio

    def facts(price_ratio: float) -> InquiryFacts:
        return InquiryFacts(
            profile=profile,
            campaign="alibaba_p4p",
            product=world.products[0],
            price_ratio=price_ratio,
            price_ratio_stated=states_a_target,
            typical_price_ratio=typical,
            needs_customization=False,
            has_company=True,
            is_free_mail=False,
            product_views=0,
            prior_orders=0,
            handler=handler,
            season=0.1,
            intent=2,
        )

    n = 60_000
    low, high = PRICE_RATIO_BOUNDS
    outcomes, probabilities = [], set()
    for _ in range(n):
        ratio = (
            0.9 if states_a_target else min(max(draws.normal(typical, PRICE_RATIO_SD), low), high)
        )
        verdict = decide(facts(ratio), draws)
        outcomes.append(verdict.converted)
        probabilities.add(round(verdict.probability, 12))

    assert len(probabilities) == 1, "look-alike inquiries share one true probability"
    probability = probabilities.pop()
    assert 0.05 < probability < 0.95
    assert abs(np.mean(outcomes) - probability) < 4 * np.sqrt(probability * (1 - probability) / n)
