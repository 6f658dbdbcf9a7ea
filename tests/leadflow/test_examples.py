"""The import mappings of docs/examples map every row of their data: they are documentation
a new user copies, so they are tested like code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_bank_marketing_export_imports_every_row(tmp_path: Path) -> None:
    example = EXAMPLES / "bank_marketing"
    prepared = _run(str(example / "prepare.py"), str(tmp_path))
    assert prepared.returncode == 0, prepared.stderr
    assert "45211 leads (2008-05-05 to 2010-11-17), 5289 won" in prepared.stdout

    for csv_file, source, mapping in (("leads.csv", "web", "leads.yml"),
                                      ("wins.csv", "crm", "wins.yml")):  # fmt: skip
        done = _run("-m", "leadflow", "import", str(tmp_path / csv_file), "--source", source,
                    "--mapping", str(example / mapping), "--dry-run")  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["rejected"] == 0 and result["events"] == result["rows"] > 5000
