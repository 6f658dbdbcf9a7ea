"""Turn the UCI Bank Marketing export into two CSV files `leadflow import` reads.

    python docs/examples/bank_marketing/prepare.py OUT_DIR [--source bank-full.csv.gz]

The export (bank-full.csv: 45,211 telemarketing calls of a Portuguese bank, May 2008 to
November 2010, ordered by date) has no id and no year, only the day and month of each
lead's last call. This script adds what it lacks and nothing else:
- `lead_id`: the row number (bank-00001 …), so a second import adds nothing;
- `call_date`: the year is reconstructed from the order (2008, plus one each time the month
  goes back, as the file's documentation implies), checked to fall on weekdays;
- `leads.csv`: one row per lead (call date, contact medium, previous campaign's outcome);
- `wins.csv`: one row per lead that subscribed (y = yes), won on its call date.
Leads that did not subscribe are not written as lost: like a funnel export without lost
records, they expire when the 90-day conversion window is over.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import sys
from pathlib import Path

HERE = Path(__file__).parent
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
FIRST_YEAR = 2008


def read_export(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file, delimiter=";"))


def with_dates(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], dt.date]]:
    year, previous_month, dated = FIRST_YEAR, 0, []
    for row in rows:
        month = MONTHS.index(row["month"]) + 1
        if month < previous_month:
            year += 1
        previous_month = month
        dated.append((row, dt.date(year, month, int(row["day"]))))
    weekend = sum(date.weekday() >= 5 for _, date in dated)
    if weekend > len(dated) // 100:  # the bank called on weekdays: a wrong year shows here
        sys.exit(
            f"error: {weekend} of {len(dated)} calls fall on a weekend; is this bank-full.csv?"
        )
    return dated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", type=Path, default=HERE / "bank-full.csv.gz")
    args = parser.parse_args()
    dated = with_dates(read_export(args.source))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    leads_path, wins_path = args.out_dir / "leads.csv", args.out_dir / "wins.csv"
    with (
        leads_path.open("w", newline="", encoding="utf-8") as leads_file,
        wins_path.open("w", newline="", encoding="utf-8") as wins_file,
    ):
        leads = csv.writer(leads_file)
        wins = csv.writer(wins_file)
        leads.writerow(["lead_id", "call_date", "contact", "previous_outcome"])
        wins.writerow(["lead_id", "won_date"])
        won = 0
        for number, (row, date) in enumerate(dated, start=1):
            lead_id = f"bank-{number:05d}"
            leads.writerow([lead_id, date.isoformat(), row["contact"], row["poutcome"]])
            if row["y"] == "yes":
                wins.writerow([lead_id, date.isoformat()])
                won += 1
    first, last = dated[0][1], dated[-1][1]
    print(f"{len(dated)} leads ({first} to {last}), {won} won -> {leads_path}, {wins_path}")


if __name__ == "__main__":
    main()
