"""The pages' Chinese: every sentence a score's reasons can say is said in Chinese."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from models.reasons import _PHRASES
from scoring_api.pages.i18n import (
    EVENT_TYPES,
    IDENTIFIERS,
    MESSAGES,
    link_reason,
    reason_text,
)
from scoring_api.schemas import TimelineItemOut

SENTENCES = [
    ("price", (True, False, 0)),
    ("price", (False, True, 0)),
    ("price", (False, False, 23)),
    ("quote", (False, False, 0, 0)),
    ("quote", (True, True, 95, 0)),
    ("quote", (True, False, 95, -7)),
    ("quote", (True, False, 95, 12)),
    ("customization", ("infeasible", "valves")),
    ("customization", ("feasible", "valves")),
    ("customization", ("awaiting", "centrifugal_pumps")),
    ("customization", ("not_needed", "not_needed")),
    ("product", ("SP40-100", "centrifugal_pumps")),
    ("product", ("UNKNOWN", "gear_reducers")),
    ("follow_up", (False, 49, False, 0, 0)),
    ("follow_up", (True, 0, True, 5, 3)),
    ("follow_up", (True, 0, False, 1, 3)),
    ("handler", ("unassigned", "unassigned")),
    ("handler", ("rep", "rep_01")),
    ("handler", ("distributor", "dist_east")),
    ("buyer_intent", ("0", True, False)),
    ("buyer_intent", ("2", False, True)),
    ("buyer_intent", ("3", True, True)),
    ("buyer_history", (False, 0, False, 0)),
    ("buyer_history", (True, 3, False, 0)),
    ("buyer_history", (True, 3, True, 2)),
    ("source", ("own_site", "CN", "none")),
    ("source", ("alibaba", "DE", "expo_2026")),
    ("season", ("3",)),
    ("season", ("0",)),
]


@pytest.mark.parametrize(("factor", "shown"), SENTENCES)
def test_every_reason_sentence_reads_in_chinese_with_its_values(factor, shown):
    english = _PHRASES[factor](*shown)

    chinese = reason_text(english, "zh-CN")

    assert re.search(r"[\u4e00-\u9fff]", chinese), (english, chinese)
    numbers = re.findall(r"[+-]?\d+", english)
    assert all(number in chinese for number in numbers), (english, chinese)
    assert reason_text(english, "en") == english


def test_every_factor_is_covered():
    assert {factor for factor, _ in SENTENCES} == set(_PHRASES)


LINKS = [
    {"link_kind": "deterministic", "link_rule": "inquiry_submitted: inquiry_id - email",
     "from_identifier_type": "inquiry_id", "to_identifier_type": "email",
     "first_event_type": "inquiry_submitted"},
    {"link_kind": "deterministic", "link_rule": "shipment_event: shipment_id - order_id",
     "from_identifier_type": "shipment_id", "to_identifier_type": "order_id",
     "first_event_type": "shipment_delivered"},
    {"link_kind": "deterministic",
     "link_rule": "company name of one CRM account: inquiry_id - account_id",
     "from_identifier_type": "inquiry_id", "to_identifier_type": "account_id",
     "first_event_type": "inquiry_submitted"},
    {"link_kind": "probabilistic",
     "link_rule": "probable match (Splink): company +7.2, contact_name +6.0, location +1.9",
     "from_identifier_type": "inquiry_id", "to_identifier_type": "inquiry_id",
     "first_event_type": "inquiry_submitted"},
]  # fmt: skip


@pytest.mark.parametrize("link", LINKS, ids=lambda link: link["link_rule"])
def test_every_link_rule_reads_in_both_languages_with_its_evidence(link):
    chinese = link_reason(link, "zh-CN")
    english = link_reason(link, "en")

    assert re.search(r"[\u4e00-\u9fff]", chinese), chinese
    assert not re.search(r"[\u4e00-\u9fff]", english), english
    assert not re.search(r"[a-z]{3,}_[a-z]", chinese + english), (chinese, english)  # no raw ids
    for weight in re.findall(r"[+-]\d+\.\d", link["link_rule"]):
        assert weight in chinese and weight in english


def test_every_link_rule_the_warehouse_writes_has_words():
    """The event types and identifier kinds int_identity_links_unioned links with."""
    sql = Path("transforms/intermediate/identity/int_identity_links_unioned.sql").read_text()
    events = set(re.findall(r"'event_type': '(\w+)'", sql)) - {"shipment_event"}
    identifiers = set(re.findall(r"'anchor': '(\w+)'", sql)) | {
        key
        for keys in re.findall(r"'keys': \[([^\]]*)\]", sql)
        for key in re.findall(r"'(\w+)'", keys)
    }
    assert events <= set(EVENT_TYPES)
    assert identifiers <= set(IDENTIFIERS)


def test_every_timeline_source_and_kind_and_lifecycle_stage_has_words():
    """The lead page names them with `t("source_" ~ …)`, `t("kind_" ~ …)`, `t("stage_" ~ …)`."""
    sources = typing.get_args(TimelineItemOut.model_fields["source"].annotation)
    kinds = typing.get_args(TimelineItemOut.model_fields["kind"].annotation)
    sql = Path("transforms/marts/dim_customers.sql").read_text()
    stages = set(re.findall(r"then '(\w+)'\s+else '(\w+)'\s+end as lifecycle_stage", sql)[0])
    keys = [f"source_{s}" for s in sources] + [f"kind_{k}" for k in kinds]
    keys += [f"stage_{stage}" for stage in stages]
    assert stages == {"customer", "prospect"}
    assert [key for key in keys if key not in MESSAGES] == []


def test_every_refusal_of_the_sql_box_reads_in_chinese_with_its_values() -> None:
    import string

    from scoring_api.pages.i18n import SQL_REFUSALS_ZH, SQL_UNAVAILABLE_ZH
    from scoring_api.sql_box import UNAVAILABLE
    from scoring_api.sql_check import MESSAGES

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for english, chinese in ((MESSAGES, SQL_REFUSALS_ZH), (UNAVAILABLE, SQL_UNAVAILABLE_ZH)):
        assert set(chinese) == set(english)
        for reason, template in english.items():
            assert fields(chinese[reason]) == fields(template), reason
            assert re.search(r"[\u4e00-\u9fff]", chinese[reason]), reason
