"""`leadflow identity`: train the contact matching model, and measure identity resolution.

Training reads the contact records of the current warehouse (int_contact_records_prepared,
rebuilt first so that it reflects every landed event) and estimates the Splink model's
parameters without labels. Evaluation compares the customers the warehouse resolved with
the true buyers of a simulated run (the simulator's truth file): pairwise precision and
recall over inquiries, and how many buyers were split or customers merged.
"""

from __future__ import annotations

import contextlib
import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from leadflow.errors import LeadflowError
from leadflow.pipeline import open_warehouse, run_dbt
from leadflow.settings import Settings

PREPARED_MODEL = "int_contact_records_prepared"
# Fewer records than this give too few pairs of different buyers (n·(n-1)/2) to estimate
# how often they agree by chance, and too few of one buyer for EM to learn from.
MIN_TRAINING_RECORDS = 300


class IdentityError(LeadflowError, RuntimeError):
    """Identity resolution cannot be trained or evaluated; the message says what to do."""


def train(settings: Settings, console: Console, out: Path | None = None) -> dict[str, Any]:
    """Rebuild the contact records, train the matching model on them, and save it to `out`
    (default: the model the dbt project uses)."""
    from transforms.contact_matching import MODEL_PATH, train_contact_model

    if not settings.warehouse_path.exists():
        raise IdentityError(
            f"no warehouse at {settings.warehouse_path}: land events first "
            "(`leadflow demo --no-serve`, or `leadflow ingest`)"
        )
    console.log(f"building {PREPARED_MODEL} and what it reads")
    run_dbt(
        settings,
        "build",  # not `run`: the seeds (free-mail domains, ...) are upstream too
        ("--select", f"+{PREPARED_MODEL}", "--indirect-selection", "cautious"),
    )
    with contextlib.closing(open_warehouse(settings, read_only=True)) as connection:
        records = connection.execute(f"select * from {PREPARED_MODEL}").fetch_arrow_table()
    if records.num_rows < MIN_TRAINING_RECORDS:
        raise IdentityError(
            f"only {records.num_rows} contact records: too few to estimate how often records "
            f"of different buyers agree by chance (at least {MIN_TRAINING_RECORDS:,} are "
            "needed); land more events"
        )
    _require_identifiers(records)
    path = out or MODEL_PATH
    console.log(f"training on {records.num_rows:,} contact records")
    model = train_contact_model(records, path=path)
    prior = model["probability_two_random_records_match"]
    return {
        "model": str(path),
        "records": records.num_rows,
        "prior_match_weight": round(math.log2(prior / (1 - prior)), 2),
        "match_weights": _level_weights(model),
    }


def _require_identifiers(records: Any) -> None:
    """Raise IdentityError, in one line, unless some contact records share an email or a
    phone: the model learns how often one buyer's records agree from such pairs."""
    with contextlib.closing(duckdb.connect()) as scratch:
        scratch.register("records", records)
        with_identifier, shared = scratch.execute(
            """
            select
                count(*) filter (where email is not null or phone is not null),
                (select count(*) from (select email from records where email is not null
                                       group by email having count(*) > 1))
                + (select count(*) from (select phone from records where phone is not null
                                         group by phone having count(*) > 1))
            from records
            """
        ).fetchone()
    if shared == 0:
        raise IdentityError(
            f"{records.num_rows:,} contact records, {with_identifier:,} with an email or "
            "phone, and no two share one: there is nothing to learn how one buyer's records "
            "agree from; import the buyers' email or phone with their inquiries or orders "
            "(the mapping's envelope email / phone); until then the model in use stays"
        )


def _level_weights(model: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per comparison and level, the match weight (log2 m/u) the model gives it."""
    weights: dict[str, dict[str, float]] = {}
    for comparison in model["comparisons"]:
        levels = weights.setdefault(comparison["output_column_name"], {})
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not m or not u:
                continue
            levels[level.get("label_for_charts", "?")] = round(math.log2(m / u), 2)
    return weights


@dataclass(frozen=True)
class IdentityScore:
    """How the resolved customers of the inquiries compare with the true buyers."""

    inquiries: int
    buyers: int
    customers: int
    precision: float  # of pairs of inquiries put under one customer, share of one buyer
    recall: float  # of pairs of inquiries of one buyer, share put under one customer
    split_buyers: int  # buyers whose inquiries went to more than one customer
    merged_customers: int  # customers holding inquiries of more than one buyer


def evaluate(settings: Settings, truth: Path) -> IdentityScore:
    """Score fct_inquiries' customer_id against the `buyer_id` column of `truth`."""
    if not truth.exists():
        raise IdentityError(f"no truth file at {truth}: `leadflow simulate` writes one")
    with truth.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if not {"inquiry_id", "buyer_id"} <= set(header):
        raise IdentityError(
            f"{truth} has no inquiry_id and buyer_id columns (it has {', '.join(header)}): "
            "give the truth file of a simulated run"
        )
    with contextlib.closing(open_warehouse(settings, read_only=True)) as connection:
        try:
            connection.execute(
                "create temp table truth as select inquiry_id, buyer_id"
                " from read_csv(?, header = true, all_varchar = true)",
                [str(truth)],
            )
            return _score(connection)
        except duckdb.CatalogException as error:
            raise IdentityError(
                f"the warehouse has no fct_inquiries yet ({error}): run `leadflow transform`"
            ) from None


def _score(connection: duckdb.DuckDBPyConnection) -> IdentityScore:
    row = connection.execute(
        """
        with joined as (
            select facts.inquiry_id, facts.customer_id, truth.buyer_id
            from fct_inquiries as facts
            inner join truth using (inquiry_id)
        ),
        pairs as (
            select
                (select sum(n * (n - 1) / 2) from
                    (select count(*) as n from joined group by customer_id)) as predicted,
                (select sum(n * (n - 1) / 2) from
                    (select count(*) as n from joined group by buyer_id)) as actual,
                (select sum(n * (n - 1) / 2) from
                    (select count(*) as n from joined group by customer_id, buyer_id)) as agreed
        )
        select
            (select count(*) from joined),
            (select count(distinct buyer_id) from joined),
            (select count(distinct customer_id) from joined),
            pairs.predicted,
            pairs.actual,
            pairs.agreed,
            (select count(*) from (select buyer_id from joined group by buyer_id
                                   having count(distinct customer_id) > 1)),
            (select count(*) from (select customer_id from joined group by customer_id
                                   having count(distinct buyer_id) > 1))
        from pairs
        """
    ).fetchone()
    assert row is not None
    inquiries, buyers, customers, predicted, actual, agreed, split, merged = row
    if not inquiries:
        raise IdentityError(
            "no inquiry of the truth file is in fct_inquiries: is it the truth of the events "
            "this warehouse landed?"
        )
    return IdentityScore(
        inquiries=inquiries,
        buyers=buyers,
        customers=customers,
        precision=round(float(agreed / predicted), 4) if predicted else 1.0,
        recall=round(float(agreed / actual), 4) if actual else 1.0,
        split_buyers=split,
        merged_customers=merged,
    )
