"""The contract's vocabularies: channels, product categories, lost reasons and countries.

They are configuration the data team owns (ingestion/vocabularies.yml is yy's, the shipped
default; LEADFLOW_VOCABULARIES names another file). A value not listed is accepted and
reported by the quality gate, or refused at every door and quarantined, per the file's
`unknown_values`; it is never merged into another value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from leadflow.errors import LeadflowError

DEFAULT_PATH = Path(__file__).with_name("vocabularies.yml")
POLICIES = ("accept", "quarantine")
FIELDS: dict[str, tuple[str, ...]] = {
    # vocabulary -> the payload fields (of any event type) it governs
    "channels": ("channel",),
    "product_categories": ("product_category",),
    "lost_reasons": ("lost_reason",),
    "countries": ("country",),
}


class VocabularyError(LeadflowError, ValueError):
    """The vocabularies file cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Vocabularies:
    """The configured values of each vocabulary (an empty set accepts any value), and what
    happens to a value not configured."""

    channels: frozenset[str] = frozenset()
    product_categories: frozenset[str] = frozenset()
    lost_reasons: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    unknown_values: Literal["accept", "quarantine"] = "accept"
    path: Path = DEFAULT_PATH

    def values(self, vocabulary: str) -> frozenset[str]:
        """The configured values of `vocabulary` (a key of FIELDS)."""
        return getattr(self, vocabulary)  # type: ignore[no-any-return]

    def unconfigured(self, payload: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """(vocabulary, field, value) for each value of `payload` outside its vocabulary."""
        found = []
        for vocabulary, fields in FIELDS.items():
            allowed = self.values(vocabulary)
            if not allowed:
                continue
            for field in fields:
                value = payload.get(field)
                if isinstance(value, str) and value not in allowed:
                    found.append((vocabulary, field, value))
        return found


def load_vocabularies(path: Path | None = None) -> Vocabularies:
    """Read a vocabularies file (default: the shipped one), or raise VocabularyError."""
    return _load(Path(path) if path is not None else DEFAULT_PATH)


@cache
def _load(path: Path) -> Vocabularies:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise VocabularyError(
            f"cannot read the vocabularies file {path} ({error.strerror or error}); "
            "LEADFLOW_VOCABULARIES must name a readable YAML file "
            f"(start from a copy of {DEFAULT_PATH})"
        ) from None
    except yaml.YAMLError as error:
        raise VocabularyError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(spec, dict):
        raise VocabularyError(f"{path}: expected a mapping of vocabularies at the top level")
    unknown = set(spec) - {*FIELDS, "unknown_values"}
    if unknown:
        raise VocabularyError(
            f"{path}: unknown key(s) {sorted(unknown)}; the keys are "
            f"{', '.join([*FIELDS, 'unknown_values'])}"
        )
    policy = spec.get("unknown_values", "accept")
    if policy not in POLICIES:
        raise VocabularyError(
            f"{path}: unknown_values must be one of {', '.join(POLICIES)}, got {policy!r}"
        )
    lists = {}
    for vocabulary in FIELDS:
        values = spec.get(vocabulary) or []
        if not isinstance(values, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip() for v in values
        ):
            raise VocabularyError(
                f"{path}: {vocabulary} must be a list of values (quote values that YAML would "
                f'read as numbers or booleans, e.g. "1688"), got {values!r}'
            )
        lists[vocabulary] = frozenset(str(v).strip() for v in values)
    return Vocabularies(**lists, unknown_values=policy, path=path)
