"""Athena's SQL (Presto/Trino dialect, Hive DDL) read into statements the engine can run.

sqlglot parses nearly all of it (``read="athena"``) and writes DuckDB SQL for queries. Where it
gives up (it parses MSCK REPAIR TABLE, SHOW ... and an ALTER TABLE ADD of several partitions as
an opaque ``Command``), a small grammar below reads those few statements instead.

>>> parse("SHOW PARTITIONS mydatabase.retail_trans_json")
ShowPartitions(table=TableName(database='mydatabase', name='retail_trans_json'))
>>> parse("SELECT date_format(invoicedate, '%Y-%m') m FROM t").kind
'select'
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from workbench._sql import identifier
from workbench.errors import InvalidRequestException

READ = "athena"
WRITE = "duckdb"

_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|[A-Za-z_][\w$]*)"
_NAME = rf"(?P<name>{_IDENT}(?:\s*\.\s*{_IDENT})?)"
_PATTERN = r"(?:\s+(?:LIKE\s+)?'(?P<pattern>[^']*)')?"
_COMMANDS = [
    ("msck", re.compile(rf"^MSCK\s+REPAIR\s+TABLE\s+{_NAME}$", re.I | re.S)),
    ("show_databases", re.compile(rf"^SHOW\s+(?:DATABASES|SCHEMAS){_PATTERN}$", re.I | re.S)),
    (
        "show_tables",
        re.compile(rf"^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+(?P<db>{_IDENT}))?{_PATTERN}$", re.I),
    ),
    ("show_partitions", re.compile(rf"^SHOW\s+PARTITIONS\s+{_NAME}$", re.I | re.S)),
    ("show_columns", re.compile(rf"^SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_NAME}$", re.I | re.S)),
    ("show_create", re.compile(rf"^SHOW\s+CREATE\s+TABLE\s+{_NAME}$", re.I | re.S)),
    (
        "add_partitions",
        re.compile(
            rf"^ALTER\s+TABLE\s+{_NAME}\s+ADD\s+(?P<ifne>IF\s+NOT\s+EXISTS\s+)?(?P<rest>PARTITION\b.*)$",
            re.I | re.S,
        ),
    ),
]
_PARTITION_SPLIT = re.compile(r"\bPARTITION\s*\(", re.I)

# Presto functions that DuckDB lacks under that name or behaviour; defined as DuckDB macros on
# every connection the engine opens (see engine), so the translation can leave their calls as
# they are.
DUCKDB_MACROS = {
    "to_iso8601": "(x) AS strftime(x, '%Y-%m-%dT%H:%M:%S.%g')",
    "hamming_distance": "(a, b) AS hamming(a, b)",
    "codepoint": "(c) AS unicode(c)",
    "current_timezone": "() AS current_setting('TimeZone')",
    "url_extract_host": "(u) AS regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)', 1)",
    "url_extract_path": "(u) AS regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)', 1)",
}

# Joda-Time pattern letters (format_datetime / parse_datetime) as strftime directives.
_JODA = [
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MMMM", "%B"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("hh", "%I"),
    ("h", "%-I"),
    ("mm", "%M"),
    ("m", "%-M"),
    ("ss", "%S"),
    ("s", "%-S"),
    ("SSSSSS", "%f"),
    ("SSS", "%g"),
    ("EEEE", "%A"),
    ("EEE", "%a"),
    ("a", "%p"),
    ("ZZ", "%z"),
    ("Z", "%z"),
    ("z", "%Z"),
    ("DDD", "%j"),
]
_UNSUPPORTED_NODES = {
    "MatchRecognize": "MATCH_RECOGNIZE",
    "Lateral": "LATERAL",
    "Pivot": "PIVOT",
    "Connect": "CONNECT BY",
}


@dataclass(frozen=True)
class TableName:
    """``database.name``; the database is None when the SQL left it to the current one."""

    database: str | None
    name: str

    def qualified(self, current: str) -> tuple[str, str]:
        return (self.database or current).lower(), self.name.lower()


@dataclass(frozen=True)
class Statement:
    # What Athena's history calls the statement: DDL unless a subclass says otherwise.
    kind: ClassVar[str] = "ddl"


@dataclass(frozen=True)
class Query(Statement):
    tree: exp.Expression
    kind: ClassVar[str] = "select"


@dataclass(frozen=True)
class CreateDatabase(Statement):
    name: str
    if_not_exists: bool
    comment: str = ""
    location: str | None = None


@dataclass(frozen=True)
class DropDatabase(Statement):
    name: str
    if_exists: bool
    cascade: bool


@dataclass(frozen=True)
class CreateExternalTable(Statement):
    table: TableName
    if_not_exists: bool
    columns: tuple[tuple[str, str, str], ...]
    partition_keys: tuple[tuple[str, str, str], ...]
    location: str
    serde: str | None
    serde_properties: dict[str, str]
    input_format: str | None
    output_format: str | None
    stored_as: str | None
    properties: dict[str, str]
    comment: str


@dataclass(frozen=True)
class CreateTableAs(Statement):
    table: TableName
    if_not_exists: bool
    options: dict[str, Any]
    query: exp.Expression
    with_data: bool
    kind: ClassVar[str] = "ctas"


@dataclass(frozen=True)
class DropTable(Statement):
    table: TableName
    if_exists: bool


@dataclass(frozen=True)
class MsckRepair(Statement):
    table: TableName


@dataclass(frozen=True)
class ShowDatabases(Statement):
    pattern: str | None


@dataclass(frozen=True)
class ShowTables(Statement):
    database: str | None
    pattern: str | None


@dataclass(frozen=True)
class ShowPartitions(Statement):
    table: TableName


@dataclass(frozen=True)
class ShowCreateTable(Statement):
    table: TableName


@dataclass(frozen=True)
class Describe(Statement):
    table: TableName


@dataclass(frozen=True)
class AddPartitions(Statement):
    table: TableName
    if_not_exists: bool
    partitions: tuple[tuple[dict[str, str], str | None], ...]


@dataclass(frozen=True)
class DropPartitions(Statement):
    table: TableName
    if_exists: bool
    partitions: tuple[dict[str, str], ...]


@functools.lru_cache(maxsize=256)
def parse(sql: str) -> Statement:
    """The one statement in ``sql`` (InvalidRequestException naming what cannot be run).

    Statements are kept by their text (a notebook runs the same few again and again): callers
    treat them as read-only and copy a tree before changing it.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise InvalidRequestException("The query is empty: write one SQL statement.")
    for kind, pattern in _COMMANDS:
        match = pattern.match(text)
        if match:
            return _COMMAND_READERS[kind](match)
    try:
        trees = _sqlglot_parse(text)
    except InvalidRequestException:
        # Athena's DDL takes `backquoted` names and learners carry them into queries; Trino's
        # grammar does not, so a query that fails is read again with them as "quoted" names.
        if "`" not in text:
            raise
        trees = _sqlglot_parse(_double_quote_backquotes(text))
    if len(trees) != 1:
        raise InvalidRequestException(
            f"Athena runs one statement per query; this text holds {len(trees)}."
        )
    return _from_tree(trees[0], text)


_STRING_OR_BACKQUOTED = re.compile(r"('(?:[^']|'')*')|`([^`]*)`")


def _double_quote_backquotes(text: str) -> str:
    """``text`` with `name` written "name", string literals left alone.

    >>> print(_double_quote_backquotes("SELECT `a` FROM t WHERE b = '`x`'"))
    SELECT "a" FROM t WHERE b = '`x`'
    """
    return _STRING_OR_BACKQUOTED.sub(lambda m: m.group(1) or identifier(m.group(2)), text)


def _sqlglot_parse(text: str) -> list[exp.Expression]:
    # sqlglot logs a warning whenever it falls back to a Command; the fallback is handled here.
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return [t for t in sqlglot.parse(text, read=READ) if t is not None]
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        where = f"line {detail.get('line', '?')}:{detail.get('col', '?')}: " if detail else ""
        description = detail.get("description") or str(error).splitlines()[0]
        near = detail.get("highlight")
        raise InvalidRequestException(
            f"SYNTAX_ERROR: {where}{description}" + (f" (near {near!r})" if near else "")
        ) from None
    except SqlglotError as error:
        raise InvalidRequestException(f"SYNTAX_ERROR: {error}") from None
    finally:
        logger.setLevel(level)


def _from_tree(tree: exp.Expression, text: str) -> Statement:
    if isinstance(tree, (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery)):
        check_supported(tree)
        return Query(tree)
    if isinstance(tree, exp.Create):
        return _create(tree)
    if isinstance(tree, exp.Drop):
        return _drop(tree)
    if isinstance(tree, exp.Describe):
        return Describe(_table_name(tree.this))
    if isinstance(tree, exp.Alter):
        return _alter(tree)
    first = text.split(None, 2)[:2]
    raise InvalidRequestException(
        f"{' '.join(first).upper()} is not supported by the workbench's Athena. It runs SELECT "
        "(with WITH, UNION, joins), CREATE TABLE AS SELECT, CREATE DATABASE, DROP DATABASE, "
        "CREATE EXTERNAL TABLE, DROP TABLE, MSCK REPAIR TABLE, ALTER TABLE ADD/DROP PARTITION, "
        "SHOW DATABASES/TABLES/PARTITIONS/COLUMNS/CREATE TABLE and DESCRIBE."
    )


def check_supported(tree: exp.Expression) -> None:
    """Raise for query constructs DuckDB cannot run, naming the construct."""
    for node in tree.walk():
        name = _UNSUPPORTED_NODES.get(type(node).__name__)
        if name:
            raise InvalidRequestException(
                f"NOT_SUPPORTED: {name} is not supported by the workbench's Athena."
            )


def _unquote_ident(text: str) -> str:
    return text[1:-1] if text[:1] in '`"' and text[-1:] == text[:1] else text


def _split_name(text: str) -> TableName:
    parts = [_unquote_ident(p.strip()) for p in re.findall(rf"{_IDENT}", text)]
    if len(parts) == 1 and "." in parts[0]:
        parts = parts[0].split(".", 1)
    if len(parts) == 2:
        return TableName(parts[0].lower(), parts[1].lower())
    return TableName(None, parts[0].lower())


def _table_name(node: exp.Expression) -> TableName:
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        raise InvalidRequestException(f"Expected a table name, found {node.sql(READ)!r}.")
    name, database = node.name, node.db
    # Athena accepts `db.table` in one pair of backquotes (the lab writes it so).
    if not database and "." in name:
        database, name = name.split(".", 1)
    return TableName(database.lower() or None, name.lower())


def _string(node: exp.Expression | None) -> str:
    if node is None:
        return ""
    if isinstance(node, exp.Literal):
        return node.this
    return node.name if hasattr(node, "name") and node.name else node.sql(READ).strip("'\"")


def _column(node: exp.ColumnDef) -> tuple[str, str, str]:
    comment = ""
    for constraint in node.args.get("constraints") or []:
        if isinstance(constraint.kind, exp.CommentColumnConstraint):
            comment = _string(constraint.kind.this)
    kind = node.args.get("kind")
    if kind is None:
        raise InvalidRequestException(f"Column {node.name!r} needs a type.")
    return node.name.lower(), hive_type(kind), comment


def hive_type(kind: exp.DataType) -> str:
    """A column type as Glue writes it (``string``, ``int``, ``array<string>``...)."""
    return kind.sql("hive").lower()


@functools.lru_cache(maxsize=1024)
def duckdb_type(glue_type: str) -> str:
    """The DuckDB type for a Glue (Hive) column type.

    >>> duckdb_type("string"), duckdb_type("float"), duckdb_type("array<struct<a:int>>")
    ('TEXT', 'REAL', 'STRUCT(a INT)[]')
    """
    try:
        return exp.DataType.build(glue_type, dialect="hive").sql(WRITE)
    except SqlglotError:
        raise InvalidRequestException(f"Unknown column type {glue_type!r}.") from None


def _properties(tree: exp.Create) -> list[exp.Expression]:
    props = tree.args.get("properties")
    return list(props.expressions) if props else []


def _create(tree: exp.Create) -> Statement:
    kind = (tree.args.get("kind") or "").upper()
    if kind in ("DATABASE", "SCHEMA"):
        comment, location = "", None
        for prop in _properties(tree):
            if isinstance(prop, exp.SchemaCommentProperty):
                comment = _string(prop.this)
            elif isinstance(prop, exp.LocationProperty):
                location = _string(prop.this)
        name = tree.this.name if isinstance(tree.this, exp.Table) else _string(tree.this)
        return CreateDatabase(name.lower(), bool(tree.args.get("exists")), comment, location)
    if kind != "TABLE":
        raise InvalidRequestException(
            f"CREATE {kind} is not supported by the workbench's Athena; it creates databases, "
            "external tables and tables from queries (CTAS)."
        )
    if tree.expression is not None:
        return _ctas(tree)
    return _external_table(tree)


def _external_table(tree: exp.Create) -> CreateExternalTable:
    schema = tree.this
    if not isinstance(schema, exp.Schema):
        raise InvalidRequestException(
            "CREATE EXTERNAL TABLE needs a column list: CREATE EXTERNAL TABLE t (`a` int, ...)."
        )
    columns = tuple(_column(c) for c in schema.expressions if isinstance(c, exp.ColumnDef))
    partition_keys: tuple[tuple[str, str, str], ...] = ()
    location = None
    serde = input_format = output_format = stored_as = None
    serde_properties: dict[str, str] = {}
    properties: dict[str, str] = {}
    comment = ""
    external = False
    for prop in _properties(tree):
        if isinstance(prop, exp.ExternalProperty):
            external = True
        elif isinstance(prop, exp.PartitionedByProperty):
            partition_keys = tuple(
                _column(c) for c in prop.this.expressions if isinstance(c, exp.ColumnDef)
            )
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = _string(prop.this)
            serde_props = prop.args.get("serde_properties")
            for item in serde_props.expressions if serde_props else []:
                serde_properties[_string(item.this)] = _string(item.args.get("value"))
        elif isinstance(prop, exp.FileFormatProperty):
            value = prop.this
            if isinstance(value, exp.InputOutputFormat):
                input_format = _string(value.args.get("input_format"))
                output_format = _string(value.args.get("output_format"))
            else:
                stored_as = _string(value).upper()
        elif isinstance(prop, exp.LocationProperty):
            location = _string(prop.this)
        elif isinstance(prop, exp.SchemaCommentProperty):
            comment = _string(prop.this)
        elif isinstance(prop, exp.Property):
            properties[_string(prop.this)] = _string(prop.args.get("value"))
        else:
            raise InvalidRequestException(
                f"CREATE EXTERNAL TABLE: {prop.sql(READ)!r} is not supported."
            )
    if not external:
        raise InvalidRequestException(
            "CREATE TABLE without AS SELECT must be CREATE EXTERNAL TABLE ... LOCATION "
            "'s3://...' (Athena creates Hive tables over data in the lake)."
        )
    if not location:
        raise InvalidRequestException("CREATE EXTERNAL TABLE needs LOCATION 's3://bucket/prefix'.")
    return CreateExternalTable(
        table=_table_name(schema),
        if_not_exists=bool(tree.args.get("exists")),
        columns=columns,
        partition_keys=partition_keys,
        location=location,
        serde=serde,
        serde_properties=serde_properties,
        input_format=input_format,
        output_format=output_format,
        stored_as=stored_as,
        properties=properties,
        comment=comment,
    )


def _ctas(tree: exp.Create) -> CreateTableAs:
    options: dict[str, Any] = {}
    with_data = True
    for prop in _properties(tree):
        if isinstance(prop, exp.WithDataProperty):
            with_data = not prop.args.get("no")
        elif isinstance(prop, exp.FileFormatProperty):
            options["format"] = _string(prop.this).upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            value = prop.this
            items = value.expressions if isinstance(value, (exp.Array, exp.Schema)) else [value]
            options["partitioned_by"] = [_string(i).lower() for i in items]
        elif isinstance(prop, exp.LocationProperty):
            options["external_location"] = _string(prop.this)
        elif isinstance(prop, exp.Property):
            key = _string(prop.this).lower()
            value = prop.args.get("value")
            if isinstance(value, exp.Array):
                options[key] = [_string(i) for i in value.expressions]
            else:
                options[key] = _string(value)
        else:
            raise InvalidRequestException(
                f"CREATE TABLE AS: the table property {prop.sql(READ)!r} is not supported; use "
                "external_location, format, parquet_compression, write_compression and "
                "partitioned_by."
            )
    query = tree.expression
    check_supported(query)
    return CreateTableAs(
        _table_name(tree.this), bool(tree.args.get("exists")), options, query, with_data
    )


def _drop(tree: exp.Drop) -> Statement:
    kind = (tree.args.get("kind") or "").upper()
    tables = tree.args.get("tables") or [tree.this]
    if kind in ("DATABASE", "SCHEMA"):
        node = tables[0]
        name = node.name or node.db
        return DropDatabase(
            name.lower(), bool(tree.args.get("exists")), bool(tree.args.get("cascade"))
        )
    if kind == "TABLE":
        return DropTable(_table_name(tables[0]), bool(tree.args.get("exists")))
    raise InvalidRequestException(
        f"DROP {kind} is not supported by the workbench's Athena; it drops databases and tables."
    )


def _partition_spec(expressions: list[exp.Expression]) -> dict[str, str]:
    spec = {}
    for item in expressions:
        if not isinstance(item, exp.EQ):
            raise InvalidRequestException(
                f"A partition is written (key=value, ...); found {item.sql(READ)!r}."
            )
        spec[item.this.name.lower()] = _string(item.expression)
    return spec


def _alter(tree: exp.Alter) -> Statement:
    table = _table_name(tree.this)
    actions = tree.args.get("actions") or []
    if actions and all(isinstance(a, exp.AddPartition) for a in actions):
        partitions = []
        for action in actions:
            location = action.args.get("location")
            partitions.append(
                (
                    _partition_spec(action.this.expressions),
                    _string(location.this) if location else None,
                )
            )
        return AddPartitions(table, bool(actions[0].args.get("exists")), tuple(partitions))
    if len(actions) == 1 and isinstance(actions[0], exp.DropPartition):
        specs = tuple(_partition_spec(p.expressions) for p in actions[0].expressions)
        return DropPartitions(table, bool(actions[0].args.get("exists")), specs)
    raise InvalidRequestException(
        "ALTER TABLE supports ADD [IF NOT EXISTS] PARTITION (...) [LOCATION '...'] and DROP "
        f"[IF EXISTS] PARTITION (...); not {tree.sql(READ)[:80]!r}."
    )


def _read_add_partitions(match: re.Match) -> Statement:
    # sqlglot reads one PARTITION clause; several in one statement are split and read one by one.
    chunks = [c for c in _PARTITION_SPLIT.split(match["rest"]) if c.strip()]
    partitions = []
    for chunk in chunks:
        single = _from_tree(_sqlglot_parse(f"ALTER TABLE t ADD PARTITION ({chunk.strip()}")[0], "")
        if not isinstance(single, AddPartitions):
            raise InvalidRequestException(f"Cannot read the partition clause {chunk!r}.")
        partitions.extend(single.partitions)
    return AddPartitions(_split_name(match["name"]), bool(match["ifne"]), tuple(partitions))


_COMMAND_READERS = {
    "msck": lambda m: MsckRepair(_split_name(m["name"])),
    "show_databases": lambda m: ShowDatabases(m["pattern"]),
    "show_tables": lambda m: ShowTables(
        _unquote_ident(m["db"]).lower() if m["db"] else None, m["pattern"]
    ),
    "show_partitions": lambda m: ShowPartitions(_split_name(m["name"])),
    "show_columns": lambda m: Describe(_split_name(m["name"])),
    "show_create": lambda m: ShowCreateTable(_split_name(m["name"])),
    "add_partitions": _read_add_partitions,
}


def like(pattern: str | None, name: str) -> bool:
    """Athena's SHOW pattern: ``*`` any characters, ``|`` alternatives, case-insensitive.

    >>> like("retail*|ctas*", "retail_trans_json"), like("x", "retail")
    (True, False)
    """
    if not pattern:
        return True
    alternatives = [re.escape(p.strip()).replace(r"\*", ".*") for p in pattern.split("|")]
    return re.fullmatch("|".join(alternatives), name, re.I) is not None


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time pattern (format_datetime, parse_datetime) as a strftime format.

    >>> joda_to_strftime("yyyy-MM-dd HH:mm:ss")
    '%Y-%m-%d %H:%M:%S'
    >>> joda_to_strftime("yyyy 'Q'")
    '%Y Q'
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1 : end].replace("%", "%%") or "'")
            i = end + 1
            continue
        for letters, directive in _JODA:
            if pattern.startswith(letters, i):
                out.append(directive)
                i += len(letters)
                break
        else:
            if pattern[i].isalpha():
                raise InvalidRequestException(
                    f"The Joda-Time pattern letter {pattern[i]!r} in {pattern!r} is not supported."
                )
            out.append(pattern[i].replace("%", "%%"))
            i += 1
    return "".join(out)


def _rewrite_presto(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime":
        value, fmt = node.expressions
        return exp.TimeToStr(this=value, format=exp.Literal.string(_joda_literal(fmt)))
    if isinstance(node, exp.StrToTime) and isinstance(node.args.get("format"), exp.Literal):
        # sqlglot reads parse_datetime as STRPTIME but keeps the Joda pattern unconverted.
        fmt = node.args["format"].this
        if re.search(r"[yMdHms]{2}", fmt) and "%" not in fmt:
            node.set("format", exp.Literal.string(joda_to_strftime(fmt)))
    return node


def _joda_literal(fmt: exp.Expression) -> str:
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        raise InvalidRequestException(
            "format_datetime needs its pattern as a string literal, e.g. 'yyyy-MM-dd'."
        )
    return joda_to_strftime(fmt.this)


def to_duckdb(tree: exp.Expression, *, copy: bool = True) -> str:
    """DuckDB SQL for a query tree read in Athena's dialect (``copy=False``: a tree the caller
    owns, rewritten in place)."""
    rewritten = tree.transform(_rewrite_presto, copy=copy)
    try:
        return rewritten.sql(WRITE)
    except SqlglotError as error:
        raise InvalidRequestException(f"NOT_SUPPORTED: {error}") from None


def conjuncts(condition: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a WHERE condition."""
    if condition is None:
        return []
    if isinstance(condition, exp.Paren):
        return conjuncts(condition.this)
    if isinstance(condition, exp.And):
        return conjuncts(condition.this) + conjuncts(condition.expression)
    return [condition]
