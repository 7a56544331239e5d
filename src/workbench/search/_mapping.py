"""Dynamic mapping: how a JSON document's fields become typed columns, as OpenSearch maps them.

OpenSearch maps the first value it sees for a field: JSON booleans to ``boolean``, integers to
``long``, other numbers to ``double``, strings that look like ISO dates to ``date`` and other
strings to ``text`` (searchable by token, with an exact ``.keyword`` sub-field). Nested objects
become dotted field names.

>>> flatten({"a": {"b": 1}, "c": [1, 2]})
{'a.b': 1, 'c': [1, 2]}
>>> [infer_type(v) for v in (True, 3, 2.5, "2026-01-01T00:00:00Z", "hello")]
['boolean', 'long', 'double', 'date', 'text']
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from workbench.errors import ServiceError


class MapperParsingException(ServiceError):
    """A document's value does not fit the field's mapped type."""


# OpenSearch's strict_date_optional_time, which dynamic date detection uses.
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)

FIELD_TYPES = {
    "boolean": "BOOLEAN",
    "long": "BIGINT",
    "double": "DOUBLE",
    "date": "TIMESTAMP",
    "text": "VARCHAR",
    "keyword": "VARCHAR",
}
NUMERIC = frozenset({"long", "double"})


def flatten(document: dict, prefix: str = "") -> dict[str, object]:
    """Nested objects as dotted field names; lists and scalars stay as they are."""
    flat: dict[str, object] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def infer_type(value: object) -> str | None:
    """The field type OpenSearch's dynamic mapping gives a first value (None: no mapping yet)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "date" if _ISO_DATE.match(value) else "text"
    if isinstance(value, list):
        return next((t for v in value if (t := infer_type(v))), None)
    return None


def parse_date(value: object) -> datetime:
    """A date field's value (ISO text or epoch milliseconds) as a naive UTC datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    if isinstance(value, str) and _ISO_DATE.match(value):
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    raise ValueError(
        f"failed to parse date field [{value}] with format [strict_date_optional_time]"
    )


def resolve_type(spec: dict) -> str:
    """An explicit mapping's field type, with OpenSearch's numeric and text aliases folded."""
    aliases = {
        "integer": "long",
        "short": "long",
        "byte": "long",
        "float": "double",
        "half_float": "double",
        "scaled_float": "double",
        "date_nanos": "date",
    }
    field_type = aliases.get(spec.get("type", "object"), spec.get("type", "object"))
    if field_type not in FIELD_TYPES:
        raise MapperParsingException(
            f"no handler for type [{spec.get('type')}]; supported: {', '.join(FIELD_TYPES)} "
            "and their aliases (integer, float, ...)"
        )
    return field_type
