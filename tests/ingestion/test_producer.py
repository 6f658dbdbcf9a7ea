"""Routing lines to topics: any line at all gets a topic, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingestion.contracts import TOPIC_BY_SOURCE
from ingestion.producer import FALLBACK_TOPIC, route

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)  # fmt: skip


def test_an_event_line_goes_to_its_sources_topic_keyed_by_its_entity() -> None:
    line = orjson.dumps(
        {"event_type": "quote_sent", "source": "sales", "inquiry_id": "INQ-7", "event_id": "e1"}
    )

    assert route(line) == ("leadflow.sales", b"INQ-7", True)


@settings(max_examples=300, derandomize=True)
@given(
    record=st.fixed_dictionaries(
        {}, optional={"source": JSON, "event_type": JSON, "event_id": JSON, "inquiry_id": JSON}
    )
    | JSON
)
def test_whatever_a_line_holds_it_is_routed_somewhere(record: Any) -> None:
    topic, _, routed = route(orjson.dumps(record))

    assert topic in {*TOPIC_BY_SOURCE.values(), FALLBACK_TOPIC}
    assert routed == (topic != FALLBACK_TOPIC)


def test_a_source_or_type_that_is_not_text_falls_back_instead_of_failing() -> None:
    assert route(b'{"source": ["web"], "event_type": "page_viewed"}')[0] == FALLBACK_TOPIC
    assert route(b'{"source": "web", "event_type": {"a": 1}}')[0] == "leadflow.web"
