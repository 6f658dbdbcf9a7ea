"""Bulk import: CSV or JSON-lines exports from CRM, WMS or the shop, turned into contract events.

A mapping file (YAML) says which event type each row becomes and where each field comes
from. Event ids are derived from the source keys, so importing the same file twice adds
nothing. Rows that do not map are reported with their line number and never published.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import types
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from ingestion.contracts import (
    CATALOGUE,
    DEFAULT_RULES,
    EVENT_TYPES,
    ContractRules,
    ContractViolation,
    Event,
    TimeWindow,
    parse_event,
    shown,
)

SOURCE_BY_SYSTEM = {"crm": "sales", "wms": "logistics", "web": "web"}
_NAMESPACE = uuid.UUID("6f1c2a0e-5b1e-4c55-9a57-1eadf1a0b001")  # leadflow imports


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the key."""


@dataclass(frozen=True)
class Rejected:
    """A row that did not become an event."""

    line: int
    reason: str


@dataclass
class ImportResult:
    """Events made from an export, and the rows that could not be."""

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    rows: int = 0


@dataclass(frozen=True)
class FieldRule:
    """Where one field's value comes from: a column (optionally mapped) or a constant."""

    column: str | None = None
    const: Any = None
    value_map: dict[str, Any] | None = None
    default: Any = None
    date_format: str | None = None
    timezone: str | None = None

    @classmethod
    def parse(cls, name: str, spec: Any) -> FieldRule:
        if isinstance(spec, str):
            return cls(column=spec)
        if not isinstance(spec, dict):
            raise MappingError(f"field {name!r}: give a column name or a mapping, got {spec!r}")
        unknown = set(spec) - {"column", "const", "map", "default", "format", "timezone"}
        if unknown:
            raise MappingError(f"field {name!r}: unknown key(s) {sorted(unknown)}")
        if ("column" in spec) == ("const" in spec):
            raise MappingError(f"field {name!r}: give exactly one of 'column' or 'const'")
        return cls(
            column=spec.get("column"),
            const=spec.get("const"),
            value_map=spec.get("map"),
            default=spec.get("default"),
            date_format=spec.get("format"),
            timezone=spec.get("timezone"),
        )

    def value(self, row: dict[str, Any]) -> Any:
        if self.column is None:
            return self.const
        if self.column not in row:
            raise KeyError(f"column {self.column!r} is missing")
        raw = row[self.column]
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return self.default
        if self.value_map is not None:
            key = str(raw).strip()
            if key not in self.value_map:
                raise KeyError(f"{self.column}={key!r} is not in the mapping's map")
            return self.value_map[key]
        if self.date_format is not None:
            try:
                moment = dt.datetime.strptime(str(raw).strip(), self.date_format)
            except ValueError:
                raise ValueError(
                    f"{self.column}={str(raw).strip()!r} does not match the date format "
                    f"{self.date_format!r}"
                ) from None
            if moment.tzinfo is None and self.timezone is not None:
                moment = moment.replace(tzinfo=_zone(self.timezone))
            return moment.isoformat()
        return raw.strip() if isinstance(raw, str) else raw


def _zone(offset: str) -> dt.tzinfo:
    """A fixed UTC offset like '+08:00' or 'Z'."""
    if offset in ("Z", "UTC"):
        return dt.UTC
    return dt.datetime.strptime(offset.replace(":", ""), "%z").tzinfo or dt.UTC


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    event_type: FieldRule
    producer: str
    key_columns: tuple[str, ...]
    occurred_at: FieldRule
    envelope: dict[str, FieldRule]
    payload: dict[str, FieldRule]
    schema_version: int = 1

    @classmethod
    def load(cls, path: Path) -> Mapping:
        """Read and check a mapping YAML file."""
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise MappingError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(spec, dict):
            raise MappingError(f"{path}: expected a mapping at the top level")
        for required in ("event_type", "producer", "key", "occurred_at"):
            if required not in spec:
                raise MappingError(f"{path}: missing required key {required!r}")
        event_type = spec["event_type"]
        rule = (
            FieldRule(const=event_type)
            if isinstance(event_type, str)
            else FieldRule.parse("event_type", event_type)
        )
        keys = spec["key"]
        return cls(
            event_type=rule,
            producer=str(spec["producer"]),
            key_columns=tuple([keys] if isinstance(keys, str) else keys),
            occurred_at=FieldRule.parse("occurred_at", spec["occurred_at"]),
            envelope={k: FieldRule.parse(k, v) for k, v in (spec.get("envelope") or {}).items()},
            payload={k: FieldRule.parse(k, v) for k, v in (spec.get("payload") or {}).items()},
            schema_version=int(spec.get("schema_version", 1)),
        )


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a CSV (with header) or JSON-lines export, with their line numbers."""
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        row = orjson.loads(line)
                    except orjson.JSONDecodeError as error:
                        yield number, {"__error__": f"not JSON: {error}"}
                        continue
                    yield number, row if isinstance(row, dict) else {"__error__": "not an object"}
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            yield number, row


def map_rows(
    path: Path, mapping: Mapping, system: str, rules: ContractRules = DEFAULT_RULES
) -> ImportResult:
    """Turn every row of the export into a validated event, or a rejection with its line.

    Rows are held to the same contract as every other door (`rules`: the deployment's
    window of event times); whatever is wrong with one row rejects that row only.
    """
    if system not in SOURCE_BY_SYSTEM:
        raise MappingError(f"--source must be one of {sorted(SOURCE_BY_SYSTEM)}, got {system!r}")
    source = SOURCE_BY_SYSTEM[system]
    window = rules.window()
    result = ImportResult()
    for line, row in read_rows(path):
        result.rows += 1
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            event = _event_from_row(row, mapping, source, window)
        except Exception as error:  # a row's fault, whatever it is, rejects that row only
            reason = error.args[0] if isinstance(error, KeyError) and error.args else error
            result.rejected.append(Rejected(line, str(reason)))
            continue
        result.events.append(event)
    return result


def _event_from_row(
    row: dict[str, Any], mapping: Mapping, source: str, window: TimeWindow
) -> Event:
    event_type = mapping.event_type.value(row)
    if not isinstance(event_type, str) or EVENT_TYPES.get(event_type) != source:
        raise ValueError(f"event_type {shown(event_type)} is not a {source} event")
    missing = [c for c in mapping.key_columns if row.get(c) in (None, "")]
    if missing:
        raise ValueError(f"source key column(s) {missing} are empty")
    natural_key = "|".join(str(row[c]).strip() for c in mapping.key_columns)
    record: dict[str, Any] = {
        "event_id": uuid.uuid5(_NAMESPACE, f"{source}|{event_type}|{natural_key}").hex,
        "event_type": event_type,
        "source": source,
        "schema_version": mapping.schema_version,
        "occurred_at": mapping.occurred_at.value(row),
        "producer": mapping.producer,
    }
    for name, rule in mapping.envelope.items():
        value = rule.value(row)
        if value is not None:
            record[name] = str(value)
    payload_model = _payload_model(event_type, mapping.schema_version)
    payload = {
        name: _typed(rule.value(row), _scalar_type(payload_model, name), rule.column)
        for name, rule in mapping.payload.items()
    }
    record["payload"] = {k: v for k, v in payload.items() if v is not None}
    try:
        return parse_event(record, window)
    except ContractViolation as violation:
        raise ValueError("; ".join(violation.details) or violation.reason) from None


def _payload_model(event_type: str, version: int) -> type[Any] | None:
    model = CATALOGUE.get((event_type, version))
    return None if model is None else model.model_fields["payload"].annotation


def _scalar_type(payload_model: type[Any] | None, name: str) -> type | None:
    """int, float or bool when the payload field `name` holds that type (or None of it)."""
    fields = getattr(payload_model, "model_fields", {})
    if name not in fields:
        return None
    annotation = fields[name].annotation
    candidates = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    for candidate in candidates:
        base = typing.get_args(candidate)[0] if hasattr(candidate, "__metadata__") else candidate
        if base in (bool, int, float):
            return base  # type: ignore[no-any-return]
    return None


_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _typed(value: Any, kind: type | None, column: str | None) -> Any:
    """An export's text as the number or flag the contract wants; a column naming error when
    it is not one. Values that are not text (JSON lines) go to the contract as they are."""
    if kind is None or not isinstance(value, str):
        return value
    text = value.strip()
    if kind is bool:
        if text.lower() in _BOOLEANS:
            return _BOOLEANS[text.lower()]
        raise ValueError(f"{column}={value!r} is not a yes/no value (true/false, yes/no, 1/0)")
    if kind is int:
        if _WHOLE.fullmatch(text) and len(text) <= 20:
            return int(text)
        raise ValueError(f"{column}={value!r} is not a whole number")
    if _DECIMAL.fullmatch(text) and len(text) <= 40:
        return float(text)
    raise ValueError(f"{column}={value!r} is not a number")
