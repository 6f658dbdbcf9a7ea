"""The quality stage's error, importable without loading Great Expectations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from leadflow.errors import LeadflowError

if TYPE_CHECKING:
    from quality.gates import GateResult


class QualityGateFailed(LeadflowError):
    """One or more gates failed; the message names each failed expectation and bad values."""

    def __init__(self, results: Iterable[GateResult]) -> None:
        """results: the gate results; the failed ones are kept in `self.results`."""
        self.results = [result for result in results if not result.success]
        super().__init__("\n".join(result.describe() for result in self.results))
