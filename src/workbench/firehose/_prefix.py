"""S3 prefixes with ``!{namespace:value}`` expressions: Firehose's rules and their evaluation.

>>> p = Prefixes.from_config(
...     "json-data/year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
...     "error-json/!{firehose:error-output-type}/!{timestamp:yyyy}/",
... )
>>> p.evaluate(1767225600.0)
'json-data/year=2026/month=01/'
>>> p.evaluate_error(1767225600.0, "processing-failed")
'error-json/processing-failed/2026/'
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.errors import InvalidArgumentException
from workbench.firehose._timeformat import check_pattern, format_instant

DEFAULT_TIMESTAMP = "!{timestamp:yyyy/MM/dd/HH/}"
MAX_PREFIX_CHARS = 1024
MAX_EVALUATED_CHARS = 512
RANDOM_STRING_CHARS = 11
_EXPRESSION = re.compile(r"!\{([^{}:]*):([^{}]*)\}")
_ALPHABET = string.ascii_letters + string.digits
NAMESPACES = ("timestamp", "firehose", "partitionKeyFromQuery", "partitionKeyFromLambda")


@dataclass(frozen=True)
class Expression:
    namespace: str
    value: str


Part = str | Expression


def parse(prefix: str, field: str = "Prefix") -> list[Part]:
    """Literal text and expressions of a prefix, validated one by one."""
    if len(prefix) > MAX_PREFIX_CHARS:
        raise InvalidArgumentException(
            f"{field} is {len(prefix)} characters long; at most {MAX_PREFIX_CHARS} are allowed."
        )
    parts: list[Part] = []
    at = 0
    for match in _EXPRESSION.finditer(prefix):
        parts.append(prefix[at : match.start()])
        namespace, value = match.group(1), match.group(2)
        if namespace not in NAMESPACES:
            raise InvalidArgumentException(
                f"The expression {match.group(0)!r} in {field} has an unknown namespace "
                f"{namespace!r}; use one of {', '.join(NAMESPACES)}."
            )
        if namespace == "timestamp":
            check_pattern(value)
        if namespace == "firehose" and value not in ("error-output-type", "random-string"):
            raise InvalidArgumentException(
                f"The expression {match.group(0)!r} in {field} is not valid: the firehose "
                "namespace has error-output-type and random-string."
            )
        if namespace.startswith("partitionKey") and not value:
            raise InvalidArgumentException(f"{match.group(0)!r} in {field} needs a key name.")
        parts.append(Expression(namespace, value))
        at = match.end()
    rest = prefix[at:]
    if "!{" in rest:
        raise InvalidArgumentException(
            f"{field} {prefix!r} has an expression that is not of the form !{{namespace:value}}."
        )
    parts.append(rest)
    return [p for p in parts if p != ""]


def _has(parts: list[Part], namespace: str, value: str | None = None) -> bool:
    return any(
        isinstance(p, Expression) and p.namespace == namespace and value in (None, p.value)
        for p in parts
    )


@dataclass(frozen=True)
class Prefixes:
    """The evaluated-at-delivery Prefix and ErrorOutputPrefix of one S3 destination."""

    prefix: tuple[Part, ...]
    error_prefix: tuple[Part, ...]

    @classmethod
    def from_config(
        cls,
        prefix: str | None,
        error_prefix: str | None,
        *,
        dynamic_partitioning: bool = False,
        query_keys: frozenset[str] | None = None,
        lambda_keys_allowed: bool = False,
    ) -> Prefixes:
        """Apply Firehose's rules to the configured prefixes (InvalidArgumentException).

        - A Prefix without a timestamp expression gets ``!{timestamp:yyyy/MM/dd/HH/}`` appended
          (not with dynamic partitioning, whose Prefix is used as written).
        - ``!{firehose:error-output-type}`` belongs in ErrorOutputPrefix only, and is required
          there once it has any expression.
        - An empty ErrorOutputPrefix is allowed only when Prefix has no expressions and means
          ``<Prefix><error-output-type>/yyyy/MM/dd/HH/``.
        - Partition keys appear only in Prefix and only with dynamic partitioning:
          partitionKeyFromQuery keys must be defined by the MetadataExtraction query,
          partitionKeyFromLambda needs a Lambda processor.
        """
        prefix = prefix or ""
        error_prefix = error_prefix or ""
        main = parse(prefix, "Prefix")
        error = parse(error_prefix, "ErrorOutputPrefix")
        expressions = [p for p in main if isinstance(p, Expression)]
        if _has(main, "firehose", "error-output-type"):
            raise InvalidArgumentException(
                "Prefix may not contain !{firehose:error-output-type}; it belongs in "
                "ErrorOutputPrefix."
            )
        for expr in expressions:
            if expr.namespace.startswith("partitionKey") and not dynamic_partitioning:
                raise InvalidArgumentException(
                    f"!{{{expr.namespace}:{expr.value}}} in Prefix needs dynamic partitioning "
                    "to be enabled (DynamicPartitioningConfiguration Enabled=true)."
                )
            if expr.namespace == "partitionKeyFromQuery" and (
                query_keys is None or expr.value not in query_keys
            ):
                raise InvalidArgumentException(
                    f"!{{partitionKeyFromQuery:{expr.value}}} in Prefix names a key that the "
                    "MetadataExtraction query does not produce; the query produces "
                    f"{sorted(query_keys or [])}."
                )
            if expr.namespace == "partitionKeyFromLambda" and not lambda_keys_allowed:
                raise InvalidArgumentException(
                    f"!{{partitionKeyFromLambda:{expr.value}}} in Prefix needs a Lambda "
                    "processor (ProcessingConfiguration) that returns metadata.partitionKeys."
                )
        if dynamic_partitioning:
            if not any(e.namespace.startswith("partitionKey") for e in expressions):
                raise InvalidArgumentException(
                    "With dynamic partitioning enabled, Prefix must use at least one "
                    "!{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...} expression."
                )
            if not error_prefix:
                raise InvalidArgumentException(
                    "With dynamic partitioning enabled, ErrorOutputPrefix is required."
                )
        elif not _has(main, "timestamp"):
            main = [*main, *parse(DEFAULT_TIMESTAMP)]
        if any(isinstance(p, Expression) and p.namespace.startswith("partitionKey") for p in error):
            raise InvalidArgumentException(
                "ErrorOutputPrefix may not contain partition keys (partitionKeyFromQuery / "
                "partitionKeyFromLambda)."
            )
        if not error_prefix:
            if expressions:
                raise InvalidArgumentException(
                    "ErrorOutputPrefix is required when Prefix contains expressions; give one "
                    "with !{firehose:error-output-type}."
                )
            error = [*parse(prefix), *parse("!{firehose:error-output-type}/" + DEFAULT_TIMESTAMP)]
        elif any(isinstance(p, Expression) for p in error) and not _has(
            error, "firehose", "error-output-type"
        ):
            raise InvalidArgumentException(
                "ErrorOutputPrefix contains expressions but not !{firehose:error-output-type}, "
                "which is then required."
            )
        return cls(tuple(main), tuple(error))

    @property
    def query_keys(self) -> list[str]:
        return _keys(self.prefix, "partitionKeyFromQuery")

    @property
    def lambda_keys(self) -> list[str]:
        return _keys(self.prefix, "partitionKeyFromLambda")

    def evaluate(
        self,
        instant: float,
        query_keys: dict[str, str] | None = None,
        lambda_keys: dict[str, str] | None = None,
    ) -> str:
        """The prefix for an object whose oldest record arrived at ``instant`` (epoch seconds)."""
        return _evaluate(self.prefix, instant, None, query_keys or {}, lambda_keys or {})

    def evaluate_error(self, instant: float, error_output_type: str) -> str:
        """The error prefix for an object of failed records of one ``error_output_type``."""
        return _evaluate(self.error_prefix, instant, error_output_type, {}, {})


def _keys(parts: tuple[Part, ...], namespace: str) -> list[str]:
    return [p.value for p in parts if isinstance(p, Expression) and p.namespace == namespace]


def random_string() -> str:
    """11 random letters and digits, new for each ``!{firehose:random-string}``."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_STRING_CHARS))


def _evaluate(
    parts: tuple[Part, ...],
    instant: float,
    error_output_type: str | None,
    query_keys: dict[str, str],
    lambda_keys: dict[str, str],
) -> str:
    moment = datetime.fromtimestamp(instant, UTC)
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.namespace == "timestamp":
            out.append(format_instant(part.value, moment))
        elif part.value == "random-string":
            out.append(random_string())
        elif part.value == "error-output-type":
            out.append(error_output_type or "")
        else:
            keys = query_keys if part.namespace == "partitionKeyFromQuery" else lambda_keys
            out.append(keys[part.value])
    evaluated = "".join(out)
    if len(evaluated) > MAX_EVALUATED_CHARS:
        raise InvalidArgumentException(
            f"The evaluated prefix is {len(evaluated)} characters long; at most "
            f"{MAX_EVALUATED_CHARS} are allowed: {evaluated[:80]}..."
        )
    return evaluated
