"""The contact matcher gives the same pairs however many threads its private DuckDB has."""

from __future__ import annotations

import random

import pyarrow as pa

from transforms.contact_matching import RECORD_COLUMNS, match_contact_records


def contact_records(buyers: int = 300, seed: int = 7) -> pa.Table:
    """Two to four records per buyer, each with some fields dropped or varied."""
    rng = random.Random(seed)
    rows: list[dict[str, str | None]] = []
    for buyer in range(buyers):
        company = f"Company {buyer % 120} Ltd"
        for copy in range(rng.randint(2, 4)):
            rows.append(
                {
                    "contact_record_id": f"r{buyer}-{copy}",
                    "company_name": company if rng.random() < 0.8 else None,
                    "company_key": company.lower().replace(" ", "") if rng.random() < 0.8 else None,
                    "email": f"buyer{buyer}@c{buyer % 120}.com" if rng.random() < 0.7 else None,
                    "email_domain": f"c{buyer % 120}.com",
                    "phone": f"+86 138{buyer:08d}" if rng.random() < 0.6 else None,
                    "contact_name": f"Name {buyer}",
                    "country": "CN" if buyer % 3 else "DE",
                    "province": f"P{buyer % 7}" if buyer % 3 else None,
                }
            )
    return pa.Table.from_pylist(rows).select(list(RECORD_COLUMNS))


def test_one_thread_matches_the_same_pairs_as_all_cores() -> None:
    records = contact_records()

    def pairs(table: pa.Table) -> list[tuple[str, str, float, str]]:
        return sorted(
            (
                row["contact_record_id_l"],
                row["contact_record_id_r"],
                round(row["match_weight"], 9),
                row["evidence"],
            )
            for row in table.to_pylist()
        )

    everywhere = match_contact_records(records)
    one_thread = match_contact_records(records, threads=1)

    assert everywhere.num_rows > 100
    assert pairs(one_thread) == pairs(everywhere)
