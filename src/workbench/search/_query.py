"""Queries, in OpenSearch's Query DSL or Lucene query-string syntax, compiled to SQL predicates.

Both forms compile to the same :class:`Predicate` (SQL text with ``?`` parameters), which the
index runs on DuckDB. Query strings are parsed by luqum, a maintained Lucene grammar.

>>> fields = {"Country": "text", "Quantity": "long"}
>>> p = compile_query_string('Country:"United Kingdom" AND Quantity:[10 TO *]', fields, now=0)
>>> p.sql
'((regexp_matches("Country", ?)) AND ("Quantity" >= ?))'
>>> p.params
['(?i)(^|[^[:alnum:]])United\\\\s+Kingdom($|[^[:alnum:]])', 10]
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser

from workbench._sql import identifier
from workbench.errors import ServiceError
from workbench.search._mapping import NUMERIC, parse_date


class QueryParsingException(ServiceError):
    """A query that cannot be parsed or uses a construct this index does not support."""


@dataclass(frozen=True)
class Predicate:
    sql: str
    params: list = field(default_factory=list)

    @staticmethod
    def join(operator: str, parts: list[Predicate], empty: str) -> Predicate:
        if not parts:
            return Predicate(empty)
        if len(parts) == 1:
            return parts[0]
        return Predicate(
            "(" + f" {operator} ".join(f"({p.sql})" for p in parts) + ")",
            [x for p in parts for x in p.params],
        )


TRUE = Predicate("TRUE")
FALSE = Predicate("FALSE")


_DATE_MATH = re.compile(r"^now((?:[+-]\d+[smhdwMy])*)(?:/([smhdwMy]))?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}


def resolve_date(value: object, now: float) -> datetime:
    """A range bound: ``now-15m``-style date math, ISO text or epoch milliseconds."""
    if isinstance(value, str) and (match := _DATE_MATH.match(value)):
        instant = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
        for sign, amount, unit in re.findall(r"([+-])(\d+)([smhdwMy])", match.group(1)):
            step = timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
            instant = instant + step if sign == "+" else instant - step
        if rounding := match.group(2):
            epoch = (
                instant.timestamp() if instant.tzinfo else instant.replace(tzinfo=UTC).timestamp()
            )
            unit = _UNIT_SECONDS[rounding]
            instant = datetime.fromtimestamp(epoch - epoch % unit, UTC).replace(tzinfo=None)
        return instant
    try:
        return parse_date(value)
    except ValueError as error:
        raise QueryParsingException(str(error)) from None


class _Compiler:
    def __init__(self, fields: dict[str, str], now: float, default_operator: str = "OR") -> None:
        self.fields = fields
        self.now = now
        self.default_operator = default_operator.upper()

    # -- fields and values -------------------------------------------------------------
    def resolve_fields(self, name: str | None) -> list[tuple[str, str]]:
        """(column, type) pairs a field reference means; ``.keyword`` asks for exact matches."""
        if name in (None, "*", "_all"):
            return [(f, "text") for f, t in self.fields.items() if t == "text"]
        if name.endswith(".keyword") and self.fields.get(name[: -len(".keyword")]) == "text":
            return [(name[: -len(".keyword")], "keyword")]
        if any(c in name for c in "*?"):
            return [(f, t) for f, t in self.fields.items() if fnmatch.fnmatchcase(f, name)]
        if name in self.fields:
            return [(name, self.fields[name])]
        return []  # an unmapped field matches nothing, as in OpenSearch

    def value(self, text: object, field_type: str) -> object:
        if field_type in NUMERIC:
            try:
                return float(text) if field_type == "double" else int(float(text))
            except (TypeError, ValueError):
                raise QueryParsingException(
                    f'failed to create query: For input string: "{text}" (a {field_type} field)'
                ) from None
        if field_type == "date":
            return resolve_date(text, self.now)
        if field_type == "boolean":
            return str(text).lower() == "true"
        return str(text)

    # -- leaf predicates -----------------------------------------------------------------
    def term(self, name: str | None, text: str, *, phrase: bool = False) -> Predicate:
        parts = []
        wildcard = not phrase and any(c in text for c in "*?")
        for col, field_type in self.resolve_fields(name):
            if field_type == "text" and wildcard:
                pattern = text.replace("%", r"\%").replace("_", r"\_")
                pattern = pattern.replace("*", "%").replace("?", "_")
                parts.append(Predicate(f"{identifier(col)} ILIKE ? ESCAPE '\\'", [f"%{pattern}%"]))
            elif field_type == "text":
                words = r"\s+".join(re.escape(w) for w in text.split())
                regex = f"(?i)(^|[^[:alnum:]]){words}($|[^[:alnum:]])"
                parts.append(Predicate(f"regexp_matches({identifier(col)}, ?)", [regex]))
            elif field_type == "keyword" and wildcard:
                pattern = text.replace("*", "%").replace("?", "_")
                parts.append(Predicate(f"{identifier(col)} LIKE ?", [pattern]))
            elif name is None:
                continue
            else:
                parts.append(Predicate(f"{identifier(col)} = ?", [self.value(text, field_type)]))
        return Predicate.join("OR", parts, "FALSE")

    def range(self, name: str, bounds: dict[str, object]) -> Predicate:
        operators = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
        unknown = set(bounds) - set(operators) - {"format", "time_zone", "boost"}
        if unknown:
            raise QueryParsingException(f"[range] query does not support [{sorted(unknown)[0]}]")
        parts = []
        for col, field_type in self.resolve_fields(name):
            for key, op in operators.items():
                if bounds.get(key) is not None:
                    bound = self.value(bounds[key], field_type)
                    parts.append(Predicate(f"{identifier(col)} {op} ?", [bound]))
        return Predicate.join("AND", parts, "FALSE" if not self.resolve_fields(name) else "TRUE")

    # -- the Query DSL -------------------------------------------------------------------
    def dsl(self, query: dict | None) -> Predicate:
        if not query:
            return TRUE
        if len(query) != 1:
            raise QueryParsingException(f"a query has one top-level kind, got {sorted(query)}")
        ((kind, body),) = query.items()
        handler = getattr(self, f"_dsl_{kind}", None)
        if handler is None:
            raise QueryParsingException(
                f"unknown query [{kind}]; supported: bool, match_all, match_none, match, "
                "match_phrase, multi_match, term, terms, range, exists, ids, prefix, wildcard, "
                "query_string, simple_query_string"
            )
        return handler(body)

    def _dsl_match_all(self, body: dict) -> Predicate:
        return TRUE

    def _dsl_match_none(self, body: dict) -> Predicate:
        return FALSE

    def _single(self, body: dict, key: str) -> tuple[str, object]:
        ((name, spec),) = body.items()
        return name, spec[key] if isinstance(spec, dict) else spec

    def _dsl_match(self, body: dict) -> Predicate:
        name, text = self._single(body, "query")
        words = str(text).split() if self.fields.get(name) == "text" else [str(text)]
        return Predicate.join("OR", [self.term(name, w) for w in words], "FALSE")

    def _dsl_match_phrase(self, body: dict) -> Predicate:
        name, text = self._single(body, "query")
        return self.term(name, str(text), phrase=True)

    def _dsl_multi_match(self, body: dict) -> Predicate:
        names = body.get("fields") or ["*"]
        return Predicate.join("OR", [self._dsl_match({n: body["query"]}) for n in names], "FALSE")

    def _dsl_term(self, body: dict) -> Predicate:
        name, value = self._single(body, "value")
        exact = [(c, "keyword" if t == "text" else t) for c, t in self.resolve_fields(name)]
        parts = [Predicate(f"{identifier(c)} = ?", [self.value(value, t)]) for c, t in exact]
        return Predicate.join("OR", parts, "FALSE")

    def _dsl_terms(self, body: dict) -> Predicate:
        ((name, values),) = ((k, v) for k, v in body.items() if k != "boost")
        return Predicate.join("OR", [self._dsl_term({name: v}) for v in values], "FALSE")

    def _dsl_range(self, body: dict) -> Predicate:
        ((name, bounds),) = body.items()
        return self.range(name, bounds)

    def _dsl_exists(self, body: dict) -> Predicate:
        parts = [
            Predicate(f"{identifier(c)} IS NOT NULL") for c, _ in self.resolve_fields(body["field"])
        ]
        return Predicate.join("OR", parts, "FALSE")

    def _dsl_ids(self, body: dict) -> Predicate:
        values = [str(v) for v in body["values"]]
        return Predicate(f"_id IN ({', '.join('?' * len(values))})", values) if values else FALSE

    def _dsl_prefix(self, body: dict) -> Predicate:
        name, text = self._single(body, "value")
        return self.term(name, f"{text}*")

    def _dsl_wildcard(self, body: dict) -> Predicate:
        name, text = self._single(body, "value")
        return self.term(name, str(text))

    def _dsl_query_string(self, body: dict) -> Predicate:
        compiler = _Compiler(self.fields, self.now, body.get("default_operator", "OR"))
        return compiler.lucene(body["query"], body.get("default_field"))

    _dsl_simple_query_string = _dsl_query_string

    def _dsl_bool(self, body: dict) -> Predicate:
        def clauses(key: str) -> list[Predicate]:
            value = body.get(key) or []
            return [self.dsl(q) for q in (value if isinstance(value, list) else [value])]

        must = clauses("must") + clauses("filter")
        should = clauses("should")
        must_not = clauses("must_not")
        minimum = body.get("minimum_should_match", 0 if must else 1)
        parts = list(must)
        if should and int(minimum) >= 1:
            parts.append(Predicate.join("OR", should, "FALSE"))
        parts += [Predicate(f"NOT ({p.sql})", p.params) for p in must_not]
        return Predicate.join("AND", parts, "TRUE")

    # -- Lucene query strings --------------------------------------------------------------
    def lucene(self, text: str, default_field: str | None = None) -> Predicate:
        if not text.strip() or text.strip() == "*":
            return TRUE
        try:
            parsed = parser.parse(text)
        except (ParseError, TypeError) as error:
            raise QueryParsingException(f"Failed to parse query [{text}]: {error}") from None
        return self.node(parsed, default_field)

    def node(self, node: tree.Item, name: str | None) -> Predicate:
        if isinstance(node, tree.SearchField):
            return self.node(node.expr, node.name)
        if isinstance(node, (tree.Group, tree.FieldGroup)):
            return self.node(node.expr, name)
        if isinstance(node, tree.AndOperation):
            return Predicate.join("AND", [self.node(c, name) for c in node.children], "TRUE")
        if isinstance(node, tree.OrOperation):
            return Predicate.join("OR", [self.node(c, name) for c in node.children], "FALSE")
        if isinstance(node, tree.UnknownOperation):
            operator = "AND" if self.default_operator == "AND" else "OR"
            return Predicate.join(operator, [self.node(c, name) for c in node.children], "TRUE")
        if isinstance(node, (tree.Not, tree.Prohibit)):
            inner = self.node(node.a, name)
            return Predicate(f"NOT ({inner.sql})", inner.params)
        if isinstance(node, tree.Plus):
            return self.node(node.a, name)
        if isinstance(node, tree.Phrase):
            return self.term(name, node.value.strip('"'), phrase=True)
        if isinstance(node, tree.Word):
            if node.value == "*" and name:
                return self._dsl_exists({"field": name})
            return self.term(name, node.value)
        if isinstance(node, tree.Range):
            low, high = node.low.value, node.high.value
            bounds = {
                "gte" if node.include_low else "gt": None if low == "*" else low,
                "lte" if node.include_high else "lt": None if high == "*" else high,
            }
            return self.range(name or "*", bounds)
        if isinstance(node, tree.From):
            return self.range(name or "*", {"gte" if node.include else "gt": node.a.value})
        if isinstance(node, tree.To):
            return self.range(name or "*", {"lte" if node.include else "lt": node.a.value})
        raise QueryParsingException(
            f"query-string construct {type(node).__name__} ({node}) is not supported: use "
            'field:value, "phrases", AND/OR/NOT, [a TO b] ranges, >, < and * ? wildcards'
        )


def compile_query(query: dict | None, fields: dict[str, str], now: float) -> Predicate:
    """A Query DSL object as a SQL predicate over the index's columns."""
    return _Compiler(fields, now).dsl(query)


def compile_query_string(text: str, fields: dict[str, str], now: float) -> Predicate:
    """A Lucene query string (Kibana's search box) as a SQL predicate."""
    return _Compiler(fields, now).lucene(text)
