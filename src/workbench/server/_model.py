"""Declarative input validation, compiled from botocore's own service model.

The model that boto3 uses to build a request (shapes, required members, min/max, patterns,
enums) is the declaration of what a valid request is; one generic validator over it answers the
way AWS's front end does: ``SerializationException`` for a value of the wrong type, and
``ValidationException`` listing each broken constraint as "Value ... at 'path' failed to satisfy
constraint: ...", so every handler receives well-typed input with blobs already decoded.

>>> kinesis = ServiceModel.load("kinesis")
>>> kinesis.parse("CreateStream", {"StreamName": "a/b", "ShardCount": 0})
Traceback (most recent call last):
...
workbench.errors.ValidationException: 2 validation errors detected: Value 'a/b' at 'streamName' \
failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or \
equal to 1
>>> kinesis.parse("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": "aGk="})["Data"]
b'hi'
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from operator import itemgetter
from typing import Any

import numpy as np
import pybase64
from botocore.loaders import Loader

from workbench.errors import SerializationException, ValidationException

# AWS stops listing broken constraints after ten.
_MAX_LISTED = 10

# Where the workbench is stricter than the newest model: it has no AUTO record distribution,
# so a partition key is required, as it was before that strategy existed.
_ALSO_REQUIRED = {
    "kinesis": {"PutRecordInput": ["PartitionKey"], "PutRecordsRequestEntry": ["PartitionKey"]}
}

Problems = list[str]
# A checker converts one value (e.g. base64 text to bytes) and appends broken constraints.
Checker = Callable[[Any, str, Problems], Any]


def _show(value: Any) -> str:
    """A value as AWS quotes it in a validation message (Java's toString of the parsed value)."""
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return f"'{value}'"


def _problem(value: Any, path: str, constraint: str) -> str:
    return f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}"


def _wrong_type(expected: str, value: Any) -> SerializationException:
    return SerializationException(
        f"Expected {expected} but got {type(value).__name__} ({str(value)[:64]!r})"
    )


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


_strict_base64 = partial(binascii.a2b_base64, strict_mode=True)
_PAD, _ZERO_DIGIT = ord("="), ord("A")


def _decode_base64(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):  # CBOR carries blobs as bytes already
        return bytes(value)
    if not isinstance(value, str):
        raise _wrong_type("a base64 string", value)
    try:
        return _strict_base64(value)
    except (binascii.Error, ValueError):
        raise SerializationException("Base64 encoded data is not valid.") from None


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):  # CBOR tag 1
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type("an epoch-seconds timestamp", value)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise SerializationException(f"Timestamp {value} is out of range.") from None


@dataclass(frozen=True, eq=False)
class ServiceModel:
    """One AWS service's operations and a compiled validator for each input shape."""

    name: str
    target_prefix: str
    operations: dict[str, str]  # operation name -> input shape name
    shapes: dict[str, dict]

    @classmethod
    @cache
    def load(cls, service: str) -> ServiceModel:
        model = Loader().load_service_model(service, "service-2")
        for shape, members in _ALSO_REQUIRED.get(service, {}).items():
            model["shapes"][shape]["required"] = [
                *model["shapes"][shape].get("required", []),
                *members,
            ]
        operations = {
            name: op["input"]["shape"] for name, op in model["operations"].items() if "input" in op
        }
        return cls(service, model["metadata"]["targetPrefix"], operations, model["shapes"])

    def parse(self, operation: str, body: Any) -> dict[str, Any]:
        """Check ``body`` against the operation's input shape; return it with blobs as bytes.

        JSON carries blobs as base64 text, CBOR as bytes; both come out as ``bytes``. The
        entries of a list of records may come out as the very dicts of ``body``, converted.
        """
        if body is None:
            body = {}
        shape = self.operations[operation]
        try:
            return _fast(self, shape)(body)
        except _Refused:
            pass  # the full walk below names every problem as AWS does
        checker = _compile(self, shape)
        problems: Problems = []
        parsed = checker(body, "", problems)
        if problems:
            count = len(problems)
            listed = "; ".join(problems[:_MAX_LISTED])
            noun = "error" if count == 1 else "errors"
            raise ValidationException(f"{count} validation {noun} detected: {listed}")
        return parsed


# The fast walk: the same checks and conversions for a valid request, without paths or
# messages; a PutRecords of 500 records costs about a tenth of the full walk. Any doubt raises
# _Refused and the full walk decides.
class _Refused(Exception):
    pass


@cache
def _fast(model: ServiceModel, shape_name: str) -> Callable[[Any], Any]:
    shape = model.shapes[shape_name]
    kind = shape["type"]
    lo, hi = shape.get("min"), shape.get("max")
    if kind == "structure":
        names = {name: member["shape"] for name, member in shape.get("members", {}).items()}
        required = tuple(shape.get("required", ()))
        members: dict[str, Callable[[Any], Any]] = {}  # filled on first use: shapes may recurse

        def structure(value: Any) -> dict:
            if type(value) is not dict:
                raise _Refused
            if not members:
                members.update({name: _fast(model, inner) for name, inner in names.items()})
            parsed = {}
            for name, item in value.items():
                check = members.get(name)
                if check is not None and item is not None:
                    parsed[name] = check(item)
            for name in required:
                if name not in parsed:
                    raise _Refused
            return parsed

        return structure
    if kind == "list":
        member_shape = shape["member"]["shape"]
        by_columns = model.shapes[member_shape]["type"] == "structure"

        def items(value: Any) -> list:
            if type(value) is not list or (lo is not None and len(value) < lo):
                raise _Refused
            if hi is not None and len(value) > hi:
                raise _Refused
            if not value:
                return []
            if by_columns:
                try:
                    return _columns(model, member_shape)(value)
                except _Refused:
                    pass  # e.g. records of different members: one by one, then maybe refused
            member = _fast(model, member_shape)
            return [member(item) for item in value]

        return items
    if kind == "string" and "enum" not in shape:
        pattern = re.compile(shape["pattern"]) if "pattern" in shape else None
        lo, hi = lo or 0, hi if hi is not None else float("inf")

        def string(value: Any) -> str:
            if type(value) is not str or not lo <= len(value) <= hi:
                raise _Refused
            if pattern is not None and not pattern.fullmatch(value):
                raise _Refused
            return value

        return string
    if kind == "blob":
        lo, hi = lo or 0, hi if hi is not None else float("inf")

        def blob(value: Any) -> bytes:
            if type(value) is str:
                try:
                    value = binascii.a2b_base64(value, strict_mode=True)
                except (binascii.Error, ValueError):
                    raise _Refused from None
            elif type(value) is not bytes:
                raise _Refused
            if not lo <= len(value) <= hi:
                raise _Refused
            return value

        return blob
    # Maps, numbers, enums, booleans and timestamps are rare and small: the full walk's
    # checker, refusing on the first problem.
    full = _compile(model, shape_name)

    def other(value: Any) -> Any:
        problems: Problems = []
        parsed = full(value, "", problems)
        if problems:
            raise _Refused
        return parsed

    return other


# A list of structures (PutRecords' records, PutRecordBatch's) is checked column by column:
# one member of every entry at once, with whole-list operations (types as a set, lengths by
# min/max, base64 by one decode) instead of hundreds of small Python steps per entry.
@cache
def _columns(model: ServiceModel, shape_name: str) -> Callable[[list], list]:
    shape = model.shapes[shape_name]
    members = {name: member["shape"] for name, member in shape.get("members", {}).items()}
    required, known = frozenset(shape.get("required", ())), frozenset(members)
    checks: dict[str, Callable[[list], list]] = {}  # filled on first use: shapes may recurse

    def rows(entries: list) -> list[dict]:
        if set(map(type, entries)) != {dict}:
            raise _Refused
        # Every entry must have the first one's members, no more and no fewer (a missing one
        # is a KeyError below), all of them known (the entry-by-entry walk drops the others).
        names = tuple(entries[0])
        if (
            set(map(len, entries)) != {len(names)}
            or not required.issubset(names)
            or not known.issuperset(names)
        ):
            raise _Refused
        if not checks:
            checks.update({name: _column(model, inner) for name, inner in members.items()})
        try:
            columns = {name: list(map(itemgetter(name), entries)) for name in names}
        except KeyError:
            raise _Refused from None
        converted = {name: checks[name](column) for name, column in columns.items()}
        # Converted values (blobs) go back into the entries themselves: the body is the
        # server's own, and 500 new dicts would cost more than all the checks above.
        for name, column in converted.items():
            if column is not columns[name]:
                for entry, item in zip(entries, column, strict=True):
                    entry[name] = item
        return entries

    return rows


def _column(model: ServiceModel, shape_name: str) -> Callable[[list], list]:
    shape = model.shapes[shape_name]
    kind = shape["type"]
    lo, hi = shape.get("min") or 0, shape.get("max", float("inf"))
    if kind == "string" and "enum" not in shape:
        pattern = re.compile(shape["pattern"]) if "pattern" in shape else None

        def strings(values: list) -> list:
            if set(map(type, values)) != {str}:
                raise _Refused
            sizes = list(map(len, values))
            if min(sizes) < lo or max(sizes) > hi:
                raise _Refused
            if pattern is not None and not all(map(pattern.fullmatch, values)):
                raise _Refused
            return values

        return strings
    if kind == "blob":

        def blobs(values: list) -> list:
            kinds = set(map(type, values))
            if kinds == {str}:
                values = _decode_base64_column(values)
            elif kinds != {bytes}:
                raise _Refused
            sizes = list(map(len, values))
            if min(sizes) < lo or max(sizes) > hi:
                raise _Refused
            return values

        return blobs
    each = _fast(model, shape_name)
    return lambda values: list(map(each, values))


def _decode_base64_column(texts: list[str]) -> list[bytes]:
    # One SIMD decode of the whole column (pybase64) costs less than a call per text: the texts
    # are joined with their padding turned into zero digits, and each one's bytes are cut out
    # of the result without the padding's. Only texts of whole groups of four can be joined
    # (their groups stay aligned); pybase64 refuses any other padding and any other character,
    # and binascii, text by text, judges whatever the joined decode could not take.
    try:
        joined = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        joined = None
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if joined is not None and sizes.min() > 0 and not (sizes % 4).any():
        ends = np.cumsum(sizes)
        last = joined[ends - 1] == _PAD
        second = last & (joined[ends - 2] == _PAD)
        digits = joined.copy()
        digits[ends[last] - 1] = _ZERO_DIGIT
        digits[ends[second] - 2] = _ZERO_DIGIT
        try:
            decoded = pybase64.b64decode(digits, validate=True)
        except binascii.Error:
            pass
        else:
            starts = ((ends - sizes) // 4 * 3).tolist()
            stops = (ends // 4 * 3 - last - second).tolist()
            return [decoded[start:stop] for start, stop in zip(starts, stops, strict=True)]
    try:
        # A keyword in the call itself: through functools.partial it costs a third more.
        return [binascii.a2b_base64(text, strict_mode=True) for text in texts]
    except (binascii.Error, ValueError):
        raise _Refused from None


@cache
def _compile(model: ServiceModel, shape_name: str) -> Checker:
    shape = model.shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        return _structure(model, shape)
    if kind in ("list", "map"):
        return _collection(model, shape)
    return _scalar(shape)


def _structure(model: ServiceModel, shape: dict) -> Checker:
    members = {
        name: (_camel(name), member["shape"]) for name, member in shape.get("members", {}).items()
    }
    required = shape.get("required", ())

    def check(value: Any, path: str, problems: Problems) -> dict:
        if not isinstance(value, dict):
            raise _wrong_type("an object", value)
        prefix = f"{path}." if path else ""
        for name in required:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{prefix}{members[name][0]}' failed to satisfy constraint: "
                    "Member must not be null"
                )
        parsed = {}
        # Members the model doesn't know are ignored, as AWS does.
        for name, item in value.items():
            if name in members and item is not None:
                camel, member_shape = members[name]
                checker = _compile(model, member_shape)
                parsed[name] = checker(item, prefix + camel, problems)
        return parsed

    return check


def _collection(model: ServiceModel, shape: dict) -> Checker:
    lo, hi = shape.get("min"), shape.get("max")
    is_map = shape["type"] == "map"

    def check(value: Any, path: str, problems: Problems) -> Any:
        if is_map:
            if not isinstance(value, dict):
                raise _wrong_type("an object", value)
            keys = _compile(model, shape["key"]["shape"])
            values = _compile(model, shape["value"]["shape"])
            parsed: Any = {
                keys(k, f"{path}.key", problems): values(v, f"{path}.value", problems)
                for k, v in value.items()
            }
        else:
            if not isinstance(value, list):
                raise _wrong_type("a list", value)
            member = _compile(model, shape["member"]["shape"])
            parsed = [
                member(item, f"{path}.{index}.member", problems)
                for index, item in enumerate(value, start=1)
            ]
        if lo is not None and len(value) < lo:
            problems.append(
                _problem(value, path, f"Member must have length greater than or equal to {lo}")
            )
        if hi is not None and len(value) > hi:
            problems.append(
                _problem(value, path, f"Member must have length less than or equal to {hi}")
            )
        return parsed

    return check


def _scalar(shape: dict) -> Checker:
    kind = shape["type"]
    lo, hi = shape.get("min"), shape.get("max")
    pattern = re.compile(shape["pattern"]) if "pattern" in shape else None
    enum = shape.get("enum")
    noun = "value" if kind in ("integer", "long", "double", "float") else "length"

    def convert(value: Any) -> Any:
        if kind == "string":
            if not isinstance(value, str):
                raise _wrong_type("a string", value)
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise _wrong_type("an integer", value)
            return value
        if kind in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _wrong_type("a number", value)
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _wrong_type("a boolean", value)
            return value
        if kind == "blob":
            return _decode_base64(value)
        if kind == "timestamp":
            return _to_datetime(value)
        return value

    def check(value: Any, path: str, problems: Problems) -> Any:
        value = convert(value)
        size = value if noun == "value" else len(value) if kind in ("string", "blob") else None
        if size is not None:
            if lo is not None and size < lo:
                problems.append(
                    _problem(value, path, f"Member must have {noun} greater than or equal to {lo}")
                )
            if hi is not None and size > hi:
                problems.append(
                    _problem(value, path, f"Member must have {noun} less than or equal to {hi}")
                )
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(
                _problem(
                    value,
                    path,
                    f"Member must satisfy regular expression pattern: {shape['pattern']}",
                )
            )
        if enum is not None and value not in enum:
            problems.append(
                _problem(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            )
        return value

    return check
