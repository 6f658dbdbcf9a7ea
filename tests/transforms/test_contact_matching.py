"""Splink's contact matching as the dbt model runs it (transforms/contact_matching.py)."""

from __future__ import annotations

import pyarrow as pa

from transforms.contact_matching import _linker, load_model, match_contact_records

RECORDS = pa.table(
    {
        "contact_record_id": ["r1", "r2", "r3", "r4"],
        "company_name": ["Huaxin Pumps Co", "Huaxin Pumps Co.", "Delta Valves", "Huaxin Pumps"],
        "company_key": ["huaxin pumps", "huaxin pumps", "delta valves", "huaxin pumps"],
        "email": ["li.wei@huaxin.cn", "wei.li@huaxin.cn", "ops@delta.de", None],
        "email_domain": ["huaxin.cn", "huaxin.cn", "delta.de", None],
        "phone": ["+8613800000001", None, "+49301234567", "+8613800000001"],
        "contact_name": ["li wei", "li wei", "anna schmidt", "li wei"],
        "country": ["CN", "CN", "DE", "CN"],
        "province": ["Zhejiang", "Zhejiang", None, "Zhejiang"],
    }
)


def test_the_private_database_uses_the_threads_it_is_given() -> None:
    # `leadflow run` keeps a core for the live scorer: Splink's database must not take it
    model = load_model()
    settings = {key: value for key, value in model.items() if key != "leadflow"}
    _, connection = _linker(RECORDS, settings, threads=1)
    assert connection.execute("select current_setting('threads')").fetchone()[0] == 1
    _, default = _linker(RECORDS, settings)
    assert default.execute("select current_setting('threads')").fetchone()[0] >= 1


def test_one_thread_finds_the_same_matches_as_every_core() -> None:
    one = match_contact_records(RECORDS, threads=1).sort_by("contact_record_id_l")
    every = match_contact_records(RECORDS).sort_by("contact_record_id_l")
    assert one.num_rows > 0, "the same buyer's records are matched"
    assert one.to_pylist() == every.to_pylist()
