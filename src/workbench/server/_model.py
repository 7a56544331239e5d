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
from typing import Annotated, Any, Literal, NotRequired, Required, TypedDict

import msgspec
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

        JSON carries blobs as base64 text, CBOR as bytes; both come out as ``bytes``. Members
        the model does not know are left out.
        """
        if body is None:
            body = {}
        shape = self.operations[operation]
        fast = _fast_type(self, shape)
        if fast is not None:
            try:
                return msgspec.convert(body, fast)
            except msgspec.ValidationError:
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

    def decode_json(self, operation: str, body: bytes) -> dict[str, Any] | None:
        """A JSON body decoded and checked in one pass, as :meth:`parse` would return it; None
        when it is not valid (or not JSON), for :meth:`parse` to name the problems."""
        decoder = _json_decoder(self, self.operations[operation])
        if decoder is None or not body:
            return None
        try:
            return decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None


# The fast path: the input shape as a msgspec type (TypedDicts, constrained str, bytes, int ...),
# which decodes a JSON body and checks it in one pass in C, base64 included; for a PutRecords of
# 500 records it costs a third of parsing the JSON into dicts and checking those. It checks what
# the full walk checks, never less (its base64 is as strict as binascii's strict mode, or
# stricter), so anything it refuses goes to the full walk, which decides and names the problems.
class _Unsupported(Exception):
    """A shape the fast path cannot check exactly as the full walk does."""


@cache
def _fast_type(model: ServiceModel, shape_name: str) -> Any:
    """The msgspec type of an input shape; None when a part of it is unsupported (timestamps,
    recursive shapes), and then every request of that shape takes the full walk."""
    try:
        return _msgspec_type(model, shape_name, frozenset())
    except _Unsupported:
        return None


@cache
def _json_decoder(model: ServiceModel, shape_name: str) -> msgspec.json.Decoder | None:
    fast = _fast_type(model, shape_name)
    return None if fast is None else msgspec.json.Decoder(fast)


def _msgspec_type(model: ServiceModel, shape_name: str, outer: frozenset[str]) -> Any:
    if shape_name in outer:
        raise _Unsupported(shape_name)
    shape = model.shapes[shape_name]
    kind = shape["type"]
    within = outer | {shape_name}
    if kind == "structure":
        required = set(shape.get("required", ()))
        fields = {
            name: (Required if name in required else NotRequired)[
                _msgspec_type(model, member["shape"], within)
            ]
            for name, member in shape.get("members", {}).items()
        }
        return TypedDict(shape_name, fields, total=False)  # type: ignore[operator]
    lengths = {"min_length": shape.get("min"), "max_length": shape.get("max")}
    if kind == "list":
        return _constrained(list[_msgspec_type(model, shape["member"]["shape"], within)], lengths)
    if kind == "map":
        keys = _msgspec_type(model, shape["key"]["shape"], within)
        values = _msgspec_type(model, shape["value"]["shape"], within)
        return _constrained(dict[keys, values], lengths)
    if kind == "string" and "enum" in shape:
        if {"min", "max", "pattern"} & set(shape):
            raise _Unsupported(shape_name)
        return Literal[tuple(shape["enum"])]
    if kind == "string":
        # msgspec searches for the pattern; the model means the whole value.
        pattern = f"^(?:{shape['pattern']})\\Z" if "pattern" in shape else None
        return _constrained(str, {**lengths, "pattern": pattern})
    if kind == "blob":
        return _constrained(bytes, lengths)
    if kind in ("integer", "long"):
        return _constrained(int, {"ge": shape.get("min"), "le": shape.get("max")})
    if kind in ("double", "float") and not {"min", "max"} & set(shape):
        return int | float  # kept as sent, as the full walk keeps them
    if kind == "boolean":
        return bool
    raise _Unsupported(shape_name)  # timestamps: epoch seconds become datetimes in the full walk


def _constrained(kind: Any, constraints: dict[str, Any]) -> Any:
    given = {name: value for name, value in constraints.items() if value is not None}
    return Annotated[kind, msgspec.Meta(**given)] if given else kind


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
