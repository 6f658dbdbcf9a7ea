"""Pairs of contact records that name the same buyer with no key in common, scored by Splink.

Runs on DuckDB only (dbt Python model): Splink matches the records of
int_contact_records_prepared with the trained model in transforms/contact_matching.py and
keeps each pair at or above its match threshold, each record's strongest few only. Splink's
private database gets no more worker threads than the warehouse's own connection has
(`leadflow run` keeps a core for the live scorer and the API).
"""

from transforms.contact_matching import match_contact_records


def model(dbt, session):  # type: ignore[no-untyped-def]  # dbt's Python model signature
    dbt.config(materialized="table")
    records = dbt.ref("int_contact_records_prepared").to_arrow_table()
    threads = session.execute("select current_setting('threads')").fetchone()[0]
    return match_contact_records(records, threads=threads)
