"""The root of the product's own errors, importable from every stage.

It imports nothing from the project, so `ingestion`, `models` and `quality` can derive
their errors from it without an import cycle.
"""

from __future__ import annotations


class LeadflowError(Exception):
    """Every error the product raises on purpose; the CLI prints its message in one line."""
