"""The pages' Chinese: every sentence a score's reasons can say is said in Chinese."""

from __future__ import annotations

import re

import pytest

from models.reasons import _PHRASES
from scoring_api.pages.i18n import reason_text

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
