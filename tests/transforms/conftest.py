"""Test data for the dbt project: hand-made buyer stories, landed through the real sink."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from ingestion.contracts import Event, decode_event, encode_event, parse_event
from ingestion.simulator import simulate
from ingestion.sink import LandingSink, Message
from ingestion.warehouse import create_landing_tables

TRANSFORMS_DIR = Path(__file__).resolve().parents[2] / "transforms"
CST = dt.timezone(dt.timedelta(hours=8))


def invoke_dbt(work_dir: Path, environment: dict[str, str], *args: str) -> dbtRunnerResult:
    """Run one dbt command of the real project in process, with `environment` set (the
    profile reads the warehouse from it) and dbt's target and logs under `work_dir`."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in environment.items():
            env.setenv(name, value)
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(TRANSFORMS_DIR),
                "--profiles-dir",
                str(TRANSFORMS_DIR),
                "--target-path",
                str(work_dir / "target"),
                "--log-path",
                str(work_dir / "logs"),
                "--quiet",
            ]
        )


def run_dbt(warehouse: Path, work_dir: Path, *args: str) -> dbtRunnerResult:
    """Run one dbt command of the real project in process, against the DuckDB `warehouse`."""
    return invoke_dbt(work_dir, {"LEADFLOW_WAREHOUSE": str(warehouse.resolve())}, *args)


def failed_nodes(result: dbtRunnerResult) -> list[str]:
    """`name: message` of each model and test that did not pass (or was skipped because of
    one), or dbt's exception when it ran nothing."""
    nodes = getattr(result.result, "results", None) or []
    failed = [
        f"{node.node.name}: {node.message}"
        for node in nodes
        if str(node.status) in {"error", "fail", "skipped"}
    ]
    return failed or ([str(result.exception)] if result.exception else [])


START = dt.datetime(2024, 3, 1, 9, 0, tzinfo=CST)


class StoryWriter:
    """Writes contract-valid events with readable ids and a clock that only moves forward."""

    def __init__(self, start: dt.datetime = START, first_id: int = 1) -> None:
        self.now = start
        self.events: list[Event] = []
        self._ids = itertools.count(first_id)

    def at(self, **delta: float) -> StoryWriter:
        """Move the clock forward, e.g. `at(hours=3)`."""
        self.now += dt.timedelta(**delta)
        return self

    def emit(
        self,
        event_type: str,
        source: str,
        payload: dict[str, Any],
        *,
        version: int = 1,
        **keys: str,
    ) -> Event:
        """Validate one event against its contract (schema `version`) and keep it."""
        event = parse_event(
            {
                "event_id": f"evt-{next(self._ids):06d}",
                "event_type": event_type,
                "source": source,
                "schema_version": version,
                "occurred_at": self.now.isoformat(),
                "producer": {"web": "shop", "sales": "crm", "logistics": "wms"}[source],
                "payload": payload,
                **keys,
            }
        )
        self.events.append(event)
        return event

    def browse(self, anonymous_id: str, sku: str = "CP-0001") -> None:
        """A visitor looks at the home page, searches and opens a product."""
        self.emit(
            "page_viewed",
            "web",
            {"url": "https://shop/", "page_type": "home"},
            anonymous_id=anonymous_id,
        )
        self.at(minutes=1).emit(
            "search_performed",
            "web",
            {"query": "pump", "results_count": 12},
            anonymous_id=anonymous_id,
        )
        self.at(minutes=2).emit(
            "product_viewed",
            "web",
            {"sku": sku, "product_category": "centrifugal_pumps"},
            anonymous_id=anonymous_id,
        )

    def inquire(
        self,
        inquiry_id: str,
        *,
        terms: dict[str, str] | None = None,
        details: dict[str, str] | None = None,
        **keys: str,
    ) -> None:
        """A buyer submits an inquiry through the own site; with delivery `terms`, through
        the new checkout (inquiry_submitted v2). `details` replace payload fields (who the
        buyer says they are: contact_name, country, province)."""
        self.emit(
            "inquiry_submitted",
            "web",
            {
                "channel": "own_site",
                "contact_name": "Buyer",
                "country": "CN",
                "province": "Zhejiang",
                "sku": "CP-0001",
                "product_category": "centrifugal_pumps",
                "quantity": 10,
                "target_unit_price": 4000.0,
                "list_unit_price": 4800.0,
                "currency": "CNY",
                "message": "Need 10 pumps, please quote.",
                **(details or {}),
                **(terms or {}),
            },
            version=1 if terms is None else 2,
            inquiry_id=inquiry_id,
            **keys,
        )

    def order(self, order_id: str, amount: float = 42000.0, **keys: str) -> None:
        """The CRM records an order."""
        self.emit(
            "order_placed",
            "sales",
            {
                "lines": [{"sku": "CP-0001", "quantity": 10, "unit_price": amount / 10}],
                "amount": amount,
                "currency": "CNY",
            },
            order_id=order_id,
            **keys,
        )

    def ship(
        self,
        shipment_id: str,
        order_id: str,
        *,
        exception: str | None = None,
        **consignee: str,
    ) -> None:
        """The warehouse ships an order (to the `consignee` company, email or phone the WMS
        records) and the carrier delivers it (or reports a problem)."""
        self.emit(
            "shipment_created",
            "logistics",
            {"warehouse": "hangzhou", "carrier": "sf", "promised_date": "2024-04-30"},
            shipment_id=shipment_id,
            order_id=order_id,
            **consignee,
        )
        self.at(days=1).emit(
            "shipment_dispatched", "logistics", {"tracking_number": "SF1"}, shipment_id=shipment_id
        )
        if exception is not None:
            self.at(days=2).emit(
                "shipment_exception",
                "logistics",
                {"exception_type": exception},
                shipment_id=shipment_id,
            )
        else:
            self.at(days=2).emit("shipment_delivered", "logistics", {}, shipment_id=shipment_id)


def buyer_stories() -> list[Event]:
    """Buyers whose identity and outcome the marts must get right; ids name the story.

    - Alice browses, inquires (email + phone), is contacted and quoted, orders against the
      inquiry under account acct-alice, and is shipped to; later she orders again by account
      only, and inquires a second time from another device giving only her phone, typed
      differently. All of it is one customer.
    - Bob and Carol never met: both typed test@test.com (and a junk phone) into the form.
      (Carol's phone was "n/a" until the contract required a phone to look like one.)
    - Dave inquires and is closed lost on price.
    - Erin inquires through the shop's new checkout (inquiry_submitted v2, with delivery
      terms); everyone else's inquiry is v1.
    """
    story = StoryWriter()
    story.browse("anon-alice")
    story.at(minutes=5).inquire(
        "inq-alice-1",
        anonymous_id="anon-alice",
        email="Alice.Wong@Acme-Trading.com",
        phone="+86 138-0013-8000",
        company=" Acme Trading Co. ",
    )
    story.at(hours=1).emit(
        "lead_assigned",
        "sales",
        {"assignee_type": "rep"},
        inquiry_id="inq-alice-1",
        rep_id="rep-01",
    )
    story.at(hours=3).emit(
        "lead_contacted",
        "sales",
        {"medium": "phone", "contact_number": 1},
        inquiry_id="inq-alice-1",
        rep_id="rep-01",
    )
    story.at(days=1).emit(
        "quote_sent",
        "sales",
        {
            "quote_id": "q-alice-1",
            "unit_price": 4200.0,
            "list_price": 4800.0,
            "quantity": 10,
            "currency": "CNY",
            "valid_until": "2024-04-01",
        },
        inquiry_id="inq-alice-1",
        rep_id="rep-01",
    )
    story.at(days=9).order(
        "order-alice-1",
        inquiry_id="inq-alice-1",
        account_id="acct-alice",
        email="alice.wong@acme-trading.com",
        rep_id="rep-01",
    )
    story.at(days=1).emit(
        "payment_received",
        "sales",
        {"amount": 42000.0, "currency": "CNY"},
        order_id="order-alice-1",
        account_id="acct-alice",
    )
    story.at(days=1).ship("ship-alice-1", "order-alice-1")
    story.at(days=60).order("order-alice-2", amount=8400.0, account_id="acct-alice")
    story.at(days=1).ship("ship-alice-2", "order-alice-2", exception="damaged")
    story.at(days=3).browse("anon-alice-phone")
    story.at(minutes=4).inquire(
        "inq-alice-2", anonymous_id="anon-alice-phone", phone="138 0013 8000"
    )

    story.at(days=1).browse("anon-bob")
    story.at(minutes=3).inquire(
        "inq-bob", anonymous_id="anon-bob", email="TEST@test.com", phone="000000", company="n/a"
    )
    story.at(hours=2).browse("anon-carol")
    story.at(minutes=3).inquire(
        "inq-carol", anonymous_id="anon-carol", email="test@test.com", phone="123456"
    )

    story.at(days=1).inquire("inq-dave", anonymous_id="anon-dave", email="dave@gmail.com")
    story.at(days=2).emit(
        "lead_assigned",
        "sales",
        {"assignee_type": "distributor"},
        inquiry_id="inq-dave",
        distributor_id="dist-07",
    )
    story.at(days=3).emit(
        "inquiry_closed",
        "sales",
        {"outcome": "lost", "lost_reason": "price"},
        inquiry_id="inq-dave",
    )

    story.at(days=1).inquire(
        "inq-erin",
        terms={"incoterm": "FOB", "delivery_deadline": "2024-09-30"},
        anonymous_id="anon-erin",
        email="erin@harbour-pumps.de",
    )
    return story.events


IDENTITY_START = dt.datetime(2024, 3, 20, 9, 0, tzinfo=CST)


def identity_stories() -> list[Event]:
    """Buyers whose records share no key, or share one they must not be joined by; their
    event ids start at evt-700001, clear of the other stories'.

    - Zhang Wei of Ningbo Pump inquires on the web (inq-zhang-1: corporate mailbox, office
      phone, "Ningbo Pump Co., Ltd."). CRM account acct-4711 orders as "NINGBO PUMP CO LTD"
      with neither email nor phone, and the WMS ships to "Ningbo Pump Co" at the office
      number typed another way. A month later Zhang inquires again through Alibaba, which
      hides the buyer's email and phone, as "Ningbo Pumps Company" (inq-zhang-2): no key in
      common with anything before, so only the probabilistic match (same company spelled
      another way, same contact name, same province) can join it. Days later he writes
      from his phone's browser with his private 163.com mailbox and the office number
      (inq-zhang-3). All of it is one customer.
    - Li Na (Hangzhou Valve Works) and Wang Fang (Yuyao Motor Ltd) both write from 163.com
      mailboxes in Zhejiang: a free-mail domain says nothing about a company, so they stay
      two customers.
    - A freight agent's phone is on the orders of three accounts (acct-agent-1..3): a
      number shared by several buyers identifies none of them, so they stay three.
    """
    story = StoryWriter(IDENTITY_START, first_id=700_001)
    zhang = {"contact_name": "Zhang Wei", "country": "CN", "province": "Zhejiang"}
    story.browse("anon-zhang")
    story.at(minutes=6).inquire(
        "inq-zhang-1",
        details=zhang,
        anonymous_id="anon-zhang",
        email="zhang.wei@ningbo-pump.com",
        phone="+86 574 8765 4321",
        company="Ningbo Pump Co., Ltd.",
    )
    story.at(days=6).order("order-4711-1", account_id="acct-4711", company="NINGBO PUMP CO LTD")
    story.at(days=2).ship(
        "ship-4711-1", "order-4711-1", company="Ningbo Pump Co", phone="+86-574-87654321"
    )
    story.at(days=30).inquire(
        "inq-zhang-2", details={**zhang, "channel": "alibaba"}, company="Ningbo Pumps Company"
    )
    story.at(days=3).browse("anon-zhang-mobile")
    story.at(minutes=2).inquire(
        "inq-zhang-3",
        details=zhang,
        anonymous_id="anon-zhang-mobile",
        email="zhangwei1985@163.com",
        phone="+86 574 87654321",
    )

    story.at(hours=5).inquire(
        "inq-li",
        details={"contact_name": "Li Na", "country": "CN", "province": "Zhejiang"},
        email="li.na@163.com",
        company="Hangzhou Valve Works",
    )
    story.at(hours=1).inquire(
        "inq-wang",
        details={"contact_name": "Wang Fang", "country": "CN", "province": "Zhejiang"},
        email="wang.fang@163.com",
        company="Yuyao Motor Ltd",
    )

    for number in (1, 2, 3):
        story.at(days=1).order(
            f"order-agent-{number}", account_id=f"acct-agent-{number}", phone="+86 21 5555 0100"
        )
    return story.events


def land(connection: duckdb.DuckDBPyConnection, events: Iterable[bytes]) -> None:
    """Land raw event lines in raw_events through the real landing sink (no broker needed)."""
    sink = LandingSink(connection, group_id="tests-transforms")
    offsets: dict[str, Iterator[int]] = {}
    for raw in events:
        try:
            topic = decode_event(raw).topic
        except ValueError:
            topic = "leadflow.web"  # the sink quarantines it
        offset = next(offsets.setdefault(topic, itertools.count()))
        sink.add(Message(topic=topic, partition=0, offset=offset, key=None, value=raw))
        if sink.pending >= 5000:
            sink.flush()
    sink.flush()


def encoded(events: Iterable[Event]) -> list[bytes]:
    """The bytes of each event, as they travel on Kafka."""
    return [encode_event(event) for event in events]


def simulated_lines(directory: Path) -> list[bytes]:
    """A small run of the real simulator (a quarter at 2,000 inquiries a year), as raw lines."""
    events, truth = directory / "events.jsonl", directory / "truth.csv"
    simulate(events, truth, seed=7, years=0.25, inquiries_per_year=2000)
    return [line for line in events.read_bytes().splitlines() if line.strip()]


def landed_warehouse_of(path: Path, lines: Iterable[bytes]) -> Path:
    """A new DuckDB warehouse at `path` with `lines` landed in raw_events by the real sink."""
    with contextlib.closing(duckdb.connect(str(path))) as connection:
        create_landing_tables(connection)
        land(connection, lines)
    return path


@pytest.fixture(scope="module")
def event_lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A simulated quarter (with its late, duplicated and malformed lines) plus the buyer
    and identity stories."""
    return simulated_lines(tmp_path_factory.mktemp("simulated")) + encoded(
        buyer_stories() + identity_stories()
    )


@pytest.fixture(scope="module")
def landed_warehouse(tmp_path_factory: pytest.TempPathFactory, event_lines: list[bytes]) -> Path:
    """A DuckDB warehouse whose raw_events hold `event_lines`, landed by the real sink
    (malformed lines quarantined, duplicates absorbed)."""
    return landed_warehouse_of(tmp_path_factory.mktemp("landed") / "warehouse.duckdb", event_lines)


@pytest.fixture
def replayed_warehouse(tmp_path: Path, event_lines: list[bytes]) -> Path:
    """Another warehouse of the same events, landed in the reverse order."""
    return landed_warehouse_of(tmp_path / "replayed.duckdb", reversed(event_lines))


# --- stories for the leadership marts (tests/transforms/test_marts.py) ----------------------

LEADERSHIP_START = dt.datetime(2025, 1, 6, 9, 0, tzinfo=CST)  # a Monday: ISO week 2025-W02
REORDER_ID = "order-frank-2"


class LeadershipStoryWriter(StoryWriter):
    """A StoryWriter whose event ids follow buyer_stories' own, so neither absorbs the other."""

    def __init__(self, start: dt.datetime = LEADERSHIP_START) -> None:
        super().__init__(start)
        self._ids = itertools.count(500_001)

    def spend(self, channel: str, campaign: str, day: str, amount: float) -> None:
        """An ad platform books a day's spend of a campaign."""
        payload = {
            "channel": channel,
            "campaign": campaign,
            "day": day,
            "amount": amount,
            "currency": "CNY",
        }
        self.emit("ad_spend_recorded", "web", payload)

    def submit(
        self, inquiry_id: str, channel: str, *, campaign: str | None = None, **buyer: Any
    ) -> None:
        """A buyer submits an inquiry (v1) for ten valves through `channel`."""
        keys = {key: buyer.pop(key) for key in ("anonymous_id", "email") if key in buyer}
        payload = {
            "channel": channel,
            "contact_name": "Buyer",
            "country": "CN",
            "sku": "VL-0001",
            "product_category": "valves",
            "quantity": 10,
            "list_unit_price": 4800.0,
            "currency": "CNY",
            **({"campaign": campaign} if campaign else {}),
            **buyer,
        }
        self.emit("inquiry_submitted", "web", payload, inquiry_id=inquiry_id, **keys)

    def work(self, inquiry_id: str, **handler: str) -> None:
        """The CRM assigns the inquiry and the handler calls the buyer 3 hours after submission."""
        assignee_type = "rep" if "rep_id" in handler else "distributor"
        self.at(hours=1).emit(
            "lead_assigned",
            "sales",
            {"assignee_type": assignee_type},
            inquiry_id=inquiry_id,
            **handler,
        )
        self.at(hours=2).emit(
            "lead_contacted",
            "sales",
            {"medium": "phone", "contact_number": 1},
            inquiry_id=inquiry_id,
            **handler,
        )

    def quote(self, quote_id: str, inquiry_id: str, unit_price: float, **handler: str) -> None:
        """The handler quotes ten units."""
        payload = {
            "quote_id": quote_id,
            "unit_price": unit_price,
            "list_price": 4800.0,
            "quantity": 10,
            "currency": "CNY",
            "valid_until": "2025-03-31",
        }
        self.emit("quote_sent", "sales", payload, inquiry_id=inquiry_id, **handler)


def leadership_stories() -> list[Event]:
    """January 2025, a year after the simulated quarter, so each row of that month is a story.

    - Ad spend: alibaba_p4p is booked for 6 and 7 January, baidu_sem_pumps for 6 January.
    - Ivy views a page at 09:00, a product at 09:30 (exactly 30 minutes: the same session)
      and searches at 10:00:01 (30 minutes and a second later: a new session); 20 minutes
      later she inquires through the own site (campaign baidu_sem_pumps); it stays open.
    - Frank (US, alibaba_p4p, target 4,000) is quoted 4,500 then 4,200 by rep-02, orders
      9,500 against his inquiry and pays; DHL delivers on 20 January, six days after the
      promised 14 January. In February he orders 3,000 more without an inquiry
      (REORDER_ID): a repeat buyer, whose value tier moves from low to medium.
    - Grace (Guangdong, baidu_sem_pumps, target 3,000) is quoted 4,500 by rep-03 — 50 %
      above her target — and the inquiry is closed lost on price.
    - Henry (Shandong, made_in_china, no campaign) goes to distributor dist-09 and is lost
      to another distributor (distributor_conflict).
    """
    story = LeadershipStoryWriter()
    story.spend("alibaba", "alibaba_p4p", "2025-01-06", 1200.5)
    story.spend("own_site", "baidu_sem_pumps", "2025-01-06", 640.0)
    story.emit(
        "page_viewed",
        "web",
        {
            "url": "https://shop/valves?utm_campaign=baidu_sem_pumps",
            "page_type": "category",
            "utm_source": "baidu",
            "utm_campaign": "baidu_sem_pumps",
            "device": "mobile",
        },
        anonymous_id="anon-ivy",
    )
    story.at(minutes=30).emit(
        "product_viewed",
        "web",
        {"sku": "VL-0001", "product_category": "valves", "url": "https://shop/p/vl-0001"},
        anonymous_id="anon-ivy",
    )
    story.at(minutes=30, seconds=1).emit(
        "search_performed",
        "web",
        {"query": "gate valve", "results_count": 4},
        anonymous_id="anon-ivy",
    )
    story.at(minutes=20).submit(
        "inq-ivy",
        "own_site",
        campaign="baidu_sem_pumps",
        anonymous_id="anon-ivy",
        email="ivy@lotus-water.cn",
        province="Guangdong",
        target_unit_price=4300.0,
    )

    frank = {"rep_id": "rep-02"}
    story.at(hours=1).submit(
        "inq-frank",
        "alibaba",
        campaign="alibaba_p4p",
        email="frank@bayside-pumps.com",
        country="US",
        target_unit_price=4000.0,
    )
    story.work("inq-frank", **frank)
    story.at(hours=20).quote("q-frank-1", "inq-frank", 4500.0, **frank)
    story.spend("alibaba", "alibaba_p4p", "2025-01-07", 800.25)
    story.at(days=1).quote("q-frank-2", "inq-frank", 4200.0, **frank)
    story.at(days=1).order(
        "order-frank-1", amount=9500.0, inquiry_id="inq-frank", account_id="acct-frank", **frank
    )
    story.at(hours=2).emit(
        "inquiry_closed", "sales", {"outcome": "won"}, inquiry_id="inq-frank", **frank
    )
    story.at(days=1).emit(
        "payment_received",
        "sales",
        {"amount": 9500.0, "currency": "CNY", "method": "letter_of_credit"},
        order_id="order-frank-1",
        account_id="acct-frank",
    )
    story.emit(
        "shipment_created",
        "logistics",
        {"warehouse": "wh_ningbo_export", "carrier": "dhl", "promised_date": "2025-01-14"},
        shipment_id="ship-frank-1",
        order_id="order-frank-1",
    )
    story.at(days=1).emit(
        "shipment_dispatched", "logistics", {"tracking_number": "DHL1"}, shipment_id="ship-frank-1"
    )

    grace = {"rep_id": "rep-03"}
    story.at(hours=1).submit(
        "inq-grace",
        "own_site",
        campaign="baidu_sem_pumps",
        email="grace@pearl-river-hvac.cn",
        province="Guangdong",
        target_unit_price=3000.0,
    )
    story.work("inq-grace", **grace)
    story.at(days=1).quote("q-grace", "inq-grace", 4500.0, **grace)

    henry = {"distributor_id": "dist-09"}
    story.at(hours=1).submit(
        "inq-henry", "made_in_china", email="henry@jinan-valves.cn", province="Shandong"
    )
    story.work("inq-henry", **henry)
    story.at(days=3).emit(
        "inquiry_closed",
        "sales",
        {"outcome": "lost", "lost_reason": "price"},
        inquiry_id="inq-grace",
        **grace,
    )
    story.at(hours=1).emit(
        "inquiry_closed",
        "sales",
        {"outcome": "lost", "lost_reason": "distributor_conflict"},
        inquiry_id="inq-henry",
        **henry,
    )

    story.now = dt.datetime(2025, 1, 20, 15, 0, tzinfo=CST)  # six days after the promise
    story.emit("shipment_delivered", "logistics", {}, shipment_id="ship-frank-1")
    story.at(days=24).order(REORDER_ID, amount=3000.0, account_id="acct-frank", **frank)
    return story.events


@pytest.fixture(scope="module")
def marts_event_lines(event_lines: list[bytes]) -> list[bytes]:
    """The simulated quarter and the buyer stories, plus the leadership stories of 2025."""
    return event_lines + encoded(leadership_stories())


@pytest.fixture(scope="module")
def marts_landed_warehouse(
    tmp_path_factory: pytest.TempPathFactory, marts_event_lines: list[bytes]
) -> Path:
    """A DuckDB warehouse whose raw_events hold `marts_event_lines`, landed by the real sink."""
    path = tmp_path_factory.mktemp("marts") / "warehouse.duckdb"
    return landed_warehouse_of(path, marts_event_lines)


@pytest.fixture
def reorder_batches() -> tuple[list[bytes], list[bytes]]:
    """The buyer and leadership stories in two landings: all but Frank's reorder, then it."""
    stories = buyer_stories() + leadership_stories()
    return (
        encoded(event for event in stories if event.order_id != REORDER_ID),
        encoded(event for event in stories if event.order_id == REORDER_ID),
    )


@pytest.fixture
def land_lines() -> Callable[[Path, Iterable[bytes]], Path]:
    """Lands raw event lines in a warehouse file (created when new) through the real sink."""
    return landed_warehouse_of
