"""Probabilistic matching of contact records with Splink on DuckDB (Fellegi-Sunter).

Deterministic links (a shared email, phone, account, order) miss buyers who never give the
same key twice: the phone on one inquiry, a company email on the next. Splink compares
contact records (`int_contact_records_prepared`) on company name, company mail domain,
phone, email, contact name and location, and scores every candidate pair with the match
weights of a trained model. The model is a JSON file kept in the repository
(`MODEL_PATH`): predictions use it as it is, so the same records always give the same
matches, and a customer's id does not move unless its data does. `train_contact_model`
re-estimates it (`leadflow identity train`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).parent / "intermediate" / "identity" / "contact_matching_model.json"
# A pair is a match at this probability or above. Chosen on simulated buyers, whose true
# identity is known (`leadflow identity evaluate`): every pair scored from 0.9 to 0.99 is
# the same buyer, while at 0.5 one pair in fifty is not; 0.95 sits inside that plateau.
MATCH_THRESHOLD = 0.95
# Every comparison level keeps at least this m probability after training. Trained on
# simulated buyers, each of whom has one email and one phone, EM learns that a second email
# or a second phone never happens (m = 0, a veto); real buyers have a work and a private
# address, a mobile and a desk phone. The floor turns such a disagreement into evidence
# against (about -5.6 bits) instead of proof.
M_PROBABILITY_FLOOR = 0.02
# A record keeps at most this many matches, its strongest: one record that resembles many
# others (a generic company name, a shared desk) must not weld them all into one customer.
MAX_MATCHES_PER_RECORD = 3

RECORD_COLUMNS = (
    "contact_record_id",
    "company_name",
    "company_key",
    "email",
    "email_domain",
    "phone",
    "contact_name",
    "country",
    "province",
)
MATCH_SCHEMA = pa.schema(
    [
        ("contact_record_id_l", pa.string()),
        ("contact_record_id_r", pa.string()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        ("evidence", pa.string()),
    ]
)


class ContactModelError(RuntimeError):
    """The contact matching model is missing or cannot be used; the message says what to do."""


def contact_matching_settings() -> SettingsCreator:
    """What Splink compares, how finely, and which pairs it considers at all."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="contact_record_id",
        comparisons=[
            cl.CustomComparison(
                output_column_name="company",
                comparison_levels=[
                    cll.NullLevel("company_name"),
                    # a common name ('shanghai trading') says less than a rare one
                    cll.ExactMatchLevel("company_key").configure(
                        tf_adjustment_column="company_key", tf_adjustment_weight=0.5
                    ),
                    cll.JaroWinklerLevel("company_name", 0.95),
                    cll.JaroWinklerLevel("company_name", 0.88),
                    cll.ElseLevel(),
                ],
            ),
            cl.ExactMatch("email_domain").configure(term_frequency_adjustments=True),
            cl.ExactMatch("email"),
            cl.ExactMatch("phone"),
            cl.CustomComparison(
                output_column_name="contact_name",
                comparison_levels=[
                    cll.NullLevel("contact_name"),
                    cll.ExactMatchLevel("contact_name").configure(
                        tf_adjustment_column="contact_name", tf_adjustment_weight=0.5
                    ),
                    cll.ElseLevel(),
                ],
            ),
            cl.CustomComparison(
                output_column_name="location",
                comparison_levels=[
                    cll.NullLevel("country"),
                    cll.And(cll.ExactMatchLevel("country"), cll.ExactMatchLevel("province")),
                    cll.ExactMatchLevel("country"),
                    cll.ElseLevel(),
                ],
            ),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("company_key"),
            block_on("email_domain"),
            block_on("email"),
            block_on("phone"),
            block_on("contact_name", "country", "province"),
        ],
        # the comparison levels (gamma_*) explain each match in the audit trail
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def _linker(
    records: pa.Table, settings: SettingsCreator | dict[str, Any], threads: int | None = None
) -> tuple[Linker, duckdb.DuckDBPyConnection]:
    """A Splink linker over `records` in a private in-memory DuckDB (none of its work
    tables touch the warehouse), and that connection, with `threads` worker threads (None:
    DuckDB's default, every core)."""
    missing = sorted(set(RECORD_COLUMNS) - set(records.column_names))
    if missing:
        raise ContactModelError(f"contact records lack the columns {missing}")
    connection = duckdb.connect()
    if threads is not None:
        connection.execute(f"set threads = {max(1, int(threads))}")
    connection.register("contact_records", records.select(list(RECORD_COLUMNS)))
    connection.execute("create table contact_records_input as select * from contact_records")
    api = DuckDBAPI(connection=connection)
    linker = Linker(api.register("contact_records_input"), settings, log_level=logging.WARNING)
    return linker, connection


def load_model(path: Path = MODEL_PATH) -> dict[str, Any]:
    """The trained model (Splink settings with m and u probabilities)."""
    if not path.exists():
        raise ContactModelError(
            f"no contact matching model at {path}: train one with `leadflow identity train`"
        )
    model: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return model


def match_contact_records(
    records: pa.Table,
    model: dict[str, Any] | None = None,
    threshold: float = MATCH_THRESHOLD,
    max_matches: int = MAX_MATCHES_PER_RECORD,
    threads: int | None = None,
) -> pa.Table:
    """Pairs of records that name the same buyer, each with its score and the evidence.

    `threads`: the private database's worker threads. The dbt model passes the warehouse's
    own setting: `leadflow run` keeps a core for the live scorer and the API, and Splink's
    database, left at every core, took it for the minute its blocking and scoring last on
    a 10M-event warehouse."""
    if records.num_rows < 2:
        return MATCH_SCHEMA.empty_table()
    model = model if model is not None else load_model()
    settings = {key: value for key, value in model.items() if key != "leadflow"}
    linker, connection = _linker(records, settings, threads)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    # each comparison's share of the match weight (with its term-frequency adjustment),
    # listed when it speaks for the match: 'company +7.2, contact_name +6.0, location +1.9'
    columns = {
        row[0] for row in connection.execute(f"describe {predictions.physical_name}").fetchall()
    }
    contributions = []
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        weight = f"mw_{name}"
        if f"mw_tf_adj_{name}" in columns:
            weight = f"({weight} + coalesce(mw_tf_adj_{name}, 0))"
        shown = f"'{name} ' || printf('%+.1f', {weight}) || ', '"
        contributions.append(f"case when {weight} > 0 then {shown} else '' end")
    evidence = " || ".join(contributions)
    # keep a pair only when it is among the `max_matches` strongest of both its records
    table = connection.execute(
        f"""
        with pairs as (
            select
                contact_record_id_l,
                contact_record_id_r,
                match_weight,
                match_probability,
                rtrim({evidence}, ', ') as evidence
            from {predictions.physical_name}
        ),
        ends as (
            select contact_record_id_l as record, contact_record_id_r as other, match_weight
            from pairs
            union all
            select contact_record_id_r, contact_record_id_l, match_weight from pairs
        ),
        ranked as (
            select
                record,
                other,
                row_number() over (
                    partition by record order by match_weight desc, other
                ) as strength_rank
            from ends
        )
        select pairs.*
        from pairs
        inner join ranked as l_rank
            on l_rank.record = pairs.contact_record_id_l
            and l_rank.other = pairs.contact_record_id_r
            and l_rank.strength_rank <= {int(max_matches)}
        inner join ranked as r_rank
            on r_rank.record = pairs.contact_record_id_r
            and r_rank.other = pairs.contact_record_id_l
            and r_rank.strength_rank <= {int(max_matches)}
        order by contact_record_id_l, contact_record_id_r
        """
    ).to_arrow_table()
    return table.cast(MATCH_SCHEMA)


def train_contact_model(
    records: pa.Table, path: Path = MODEL_PATH, seed: int = 7
) -> dict[str, Any]:
    """Estimate the model's parameters on `records` with Splink (unsupervised) and save it.

    u probabilities come from random pairs (almost all non-matches); m probabilities from
    expectation maximisation over pairs that share a company key, a mail domain, or a
    contact name in the same place; the prior from pairs sharing an email or phone.
    """
    linker, _ = _linker(records, contact_matching_settings())
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=seed)
    for blocking in (
        block_on("company_key"),
        block_on("email_domain"),
        block_on("contact_name", "country", "province"),
    ):
        training.estimate_parameters_using_expectation_maximisation(
            blocking, fix_probability_two_random_records_match=True
        )
    model: dict[str, Any] = _with_m_floor(linker.misc.save_model_to_json())
    model["leadflow"] = {
        "trained_on_records": records.num_rows,
        "seed": seed,
        "match_threshold": MATCH_THRESHOLD,
        "max_matches_per_record": MAX_MATCHES_PER_RECORD,
        "m_probability_floor": M_PROBABILITY_FLOOR,
    }
    path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return model


def _with_m_floor(model: dict[str, Any]) -> dict[str, Any]:
    """The model with each comparison's m probabilities floored and summing to one again."""
    for comparison in model["comparisons"]:
        levels = [
            level
            for level in comparison["comparison_levels"]
            if not level.get("is_null_level") and level.get("m_probability") is not None
        ]
        floored = [max(level["m_probability"], M_PROBABILITY_FLOOR) for level in levels]
        total = sum(floored)
        for level, m_probability in zip(levels, floored, strict=True):
            level["m_probability"] = m_probability / total
    return model
