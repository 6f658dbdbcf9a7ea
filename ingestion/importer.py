"""Bulk import: CSV or JSON-lines exports from CRM, WMS or the shop, turned into contract events.

A mapping file (YAML) says which event type each row becomes and where each field comes
from. Event ids are derived from the source keys, so importing the same file twice adds
nothing. A row whose key was imported before with other content is a correction: it gets
an id derived from its key and its content, and lands as a new event beside the old one
(the marts take the latest landed version of a moment, e.g. a corrected lost reason).
Rows that do not map are reported with their line number, column and value, and never
published; a problem of the whole file (its encoding, a column the mapping needs, no rows
at all) is reported once, and nothing of it is published.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import types
import typing
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import yaml

from ingestion.contracts import (
    CATALOGUE,
    DEFAULT_RULES,
    EVENT_TYPES,
    IDENTITY_KEYS,
    ContractRules,
    ContractViolation,
    Event,
    TimeWindow,
    parse_event,
    shown,
)
from leadflow.errors import LeadflowError

SOURCE_BY_SYSTEM = {"crm": "sales", "wms": "logistics", "web": "web"}
_NAMESPACE = uuid.UUID("6f1c2a0e-5b1e-4c55-9a57-1eadf1a0b001")  # leadflow imports


class MappingError(LeadflowError, ValueError):
    """The mapping file itself is wrong; the message names the key."""


class ExportError(LeadflowError, ValueError):
    """The export as a whole cannot be imported (encoding, columns, no rows); one line why."""


ENCODINGS = ("utf-8-sig", "gb18030")
"""Tried in turn when no --encoding is given: UTF-8 (with or without a BOM), then GB18030,
the superset of GBK and GB2312 in which Chinese CRMs and Excel export."""


@dataclass(frozen=True)
class Rejected:
    """A row that did not become an event."""

    line: int
    reason: str


@dataclass(frozen=True)
class Correction:
    """A row whose key was imported before with other content: it lands as a new event."""

    line: int
    replaces: str  # event_id of the version that landed
    event_id: str  # of this one
    differences: tuple[str, ...]


@dataclass
class ImportResult:
    """Events made from an export, the rows that could not be, and the corrections."""

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    rows: int = 0
    encoding: str = "utf-8"
    lines: list[int] = field(default_factory=list)  # the export line of each event


LandedVersions = Callable[[list[str]], dict[str, dict[str, Any]]]
"""event_ids → the content of those that landed (event_content), for finding corrections."""


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
        raw = row.get(self.column)  # a JSON line may leave out a null field
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

    @property
    def columns(self) -> set[str]:
        """Every column of the export the mapping reads."""
        rules = [self.event_type, self.occurred_at, *self.envelope.values(), *self.payload.values()]
        return {rule.column for rule in rules if rule.column} | set(self.key_columns)

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


def read_rows(
    path: Path,
    encoding: str | None = None,
    columns: Collection[str] = (),
) -> tuple[str, Iterator[tuple[int, dict[str, Any]]]]:
    """(the encoding read, the rows of a CSV (with header) or JSON-lines export with their
    line numbers). ExportError when the file as a whole cannot be read, or a CSV header
    lacks one of `columns`; a row that cannot be read is one with an `__error__`."""
    raw = path.read_bytes()
    text, used = _decoded(raw, path, encoding)
    if not text.strip():
        raise ExportError(f"{path} is empty ({len(raw):,} bytes): there is nothing to import")
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return used, _json_lines(text)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = sorted(set(columns) - set(header))
    if missing:
        raise ExportError(
            f"{path} has no column {', '.join(map(repr, missing))} that the mapping reads "
            f"(its columns: {', '.join(header)})"
        )
    return used, _csv_rows(reader, len(header))


def _decoded(raw: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    for candidate in (encoding,) if encoding else ENCODINGS:
        try:
            return raw.decode(candidate), "utf-8" if candidate == "utf-8-sig" else candidate
        except LookupError:
            raise ExportError(f"--encoding {candidate!r} is not an encoding Python knows") from None
        except UnicodeDecodeError as error:
            if encoding or candidate == ENCODINGS[-1]:
                line = raw[: error.start].count(b"\n") + 1
                tried = encoding or " nor ".join(ENCODINGS)
                raise ExportError(
                    f"{path} is not {tried} text: byte {error.start:,} (line {line}) cannot be "
                    "decoded; give the export's encoding with --encoding (e.g. gbk, big5, "
                    "shift_jis, latin-1)"
                ) from None
    raise AssertionError("unreachable")


def _json_lines(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield number, {"__error__": f"not JSON: {error}"}
            continue
        yield number, row if isinstance(row, dict) else {"__error__": "not a JSON object"}


def _csv_rows(reader: csv.DictReader[str], width: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for row in reader:
        number = reader.line_num  # the physical line the row ends on
        extra = row.pop(None, None)  # type: ignore[call-overload]
        short = [name for name, value in row.items() if value is None]
        if extra:
            yield (
                number,
                {
                    "__error__": f"the row has {width + len(extra)} fields, the header {width}: "
                    f"{', '.join(map(repr, extra))} beyond the last column"
                },
            )
        elif short:
            yield (
                number,
                {
                    "__error__": f"the row has {width - len(short)} fields, the header {width}: "
                    f"no value for {', '.join(map(repr, short))}"
                },
            )
        else:
            yield number, row


def map_rows(
    path: Path,
    mapping: Mapping,
    system: str,
    rules: ContractRules = DEFAULT_RULES,
    *,
    encoding: str | None = None,
    landed_versions: LandedVersions | None = None,
) -> ImportResult:
    """Turn every row of the export into a validated event, or a rejection with its line.

    Rows are held to the same contract as every other door (`rules`: the deployment's
    window of event times); whatever is wrong with one row rejects that row only.
    `landed_versions` (what landed of given event_ids) finds the corrections; without it,
    a corrected row keeps its key's id and the consumer quarantines it as a conflict.
    """
    if system not in SOURCE_BY_SYSTEM:
        raise MappingError(f"--source must be one of {sorted(SOURCE_BY_SYSTEM)}, got {system!r}")
    source = SOURCE_BY_SYSTEM[system]
    window = rules.window()
    used, rows = read_rows(path, encoding, mapping.columns)
    result = ImportResult(encoding=used)
    keyed: list[tuple[Event, str]] = []
    for line, row in rows:
        result.rows += 1
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            event, natural_key = _event_from_row(row, mapping, source, window)
        except Exception as error:  # a row's fault, whatever it is, rejects that row only
            reason = error.args[0] if isinstance(error, KeyError) and error.args else error
            result.rejected.append(Rejected(line, str(reason)))
            continue
        result.events.append(event)
        result.lines.append(line)
        keyed.append((event, natural_key))
    if result.rows == 0:
        raise ExportError(f"{path} has a header but no rows: there is nothing to import")
    if landed_versions is not None and keyed:
        _find_corrections(result, keyed, landed_versions)
    return result


def event_content(record: dict[str, Any]) -> dict[str, Any]:
    """What makes an event the event it is, comparable across sources: every field of its
    JSON object but the id, its time in UTC (without an offset)."""
    content = {k: v for k, v in record.items() if k != "event_id" and v is not None}
    moment = content.get("occurred_at")
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    content["occurred_at"] = moment
    return content


def _find_corrections(
    result: ImportResult, keyed: list[tuple[Event, str]], landed_versions: LandedVersions
) -> None:
    """Give each row that corrects what landed under its key an id of its own."""
    versions = [(_content_id(event, key), event) for event, key in keyed]
    landed = landed_versions(
        [event.event_id for event, _ in keyed] + [content_id for content_id, _ in versions]
    )
    for index, (content_id, event) in enumerate(versions):
        before = landed.get(event.event_id)
        content = event_content(event.to_record())
        if before is None or before == content or content_id in landed:
            continue  # new, the same again, or a correction imported before
        corrected = event.model_copy(update={"event_id": content_id})
        result.events[index] = corrected
        differences = tuple(
            f"{field}: {shown(before.get(field))} → {shown(content.get(field))}"
            for field in sorted(set(before) | set(content))
            if field != "payload" and before.get(field) != content.get(field)
        ) + tuple(
            f"payload.{key}: {shown(old)} → {shown(new)}"
            for key in sorted(set(before.get("payload", {})) | set(content.get("payload", {})))
            if (old := before.get("payload", {}).get(key)) != (new := content["payload"].get(key))
        )
        result.corrections.append(
            Correction(result.lines[index], event.event_id, content_id, differences)
        )


def landed_versions_in(connection: duckdb.DuckDBPyConnection) -> LandedVersions:
    """LandedVersions read from a warehouse's raw_events (event_content of each)."""
    columns = ["event_id", "event_type", "source", "schema_version", "occurred_at", "producer"]
    columns += [*IDENTITY_KEYS, "payload"]

    def landed(event_ids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(event_ids), 500):
            # a literal list: answered from the primary key's index
            listed = ", ".join(
                "'" + i.replace("'", "''") + "'" for i in event_ids[start : start + 500]
            )
            try:
                rows = connection.execute(
                    f"select {', '.join(columns)} from raw_events where event_id in ({listed})"
                ).fetchall()
            except duckdb.CatalogException:  # nothing landed in this warehouse yet
                return found
            for row in rows:
                record = dict(zip(columns, row, strict=True))
                record["payload"] = orjson.loads(record["payload"])
                found[row[0]] = event_content(record)
        return found

    return landed


def _content_id(event: Event, natural_key: str) -> str:
    content = orjson.dumps(event_content(event.to_record()), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(content).hexdigest()
    return uuid.uuid5(_NAMESPACE, f"{event.source}|{event.event_type}|{natural_key}|{digest}").hex


def _event_from_row(
    row: dict[str, Any], mapping: Mapping, source: str, window: TimeWindow
) -> tuple[Event, str]:
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
        return parse_event(record, window), natural_key
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
