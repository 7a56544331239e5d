"""The catalog (Glue's job): databases, tables over lake locations, and their partitions.

Names are case-insensitive and kept in lowercase, as Glue does. A table records its columns
(name, Hive type, comment), partition keys, location, storage format and properties; partitions
record their values (as text, as Glue stores them: ``month=03`` keeps ``"03"``) and location.

>>> import tempfile
>>> from pathlib import Path
>>> catalog = Catalog(Path(tempfile.mkdtemp()) / "glue.sqlite")
>>> catalog.create_database("mydatabase")["Name"]
'mydatabase'
>>> table = Table(database="mydatabase", name="t", columns=(Column("a", "int"),),
...               partition_keys=(Column("year", "int"),), location="s3://b/t", format="parquet")
>>> catalog.create_table(table)
>>> catalog.add_partitions("mydatabase", "t", [(("2026",), "s3://b/t/year=2026/")])
1
>>> [p.values for p in catalog.partitions("mydatabase", "t")]
[('2026',)]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from workbench.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidRequestException,
)
from workbench.lake._sqlite import Database

DEFAULT_DATABASE = "default"

OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

# The storage formats the query engine reads, by what a table definition names.
FORMATS = {
    "json": (OPENX_JSON_SERDE, TEXT_INPUT, TEXT_OUTPUT),
    "parquet": (PARQUET_SERDE, PARQUET_INPUT, PARQUET_OUTPUT),
}
_SERDE_FORMATS = {
    OPENX_JSON_SERDE.lower(): "json",
    HIVE_JSON_SERDE.lower(): "json",
    PARQUET_SERDE.lower(): "parquet",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS databases (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, location_uri TEXT, create_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    database TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    PRIMARY KEY (database, name)
);
CREATE TABLE IF NOT EXISTS partitions (
    database TEXT NOT NULL, table_name TEXT NOT NULL, vals TEXT NOT NULL, location TEXT NOT NULL,
    create_time REAL NOT NULL, PRIMARY KEY (database, table_name, vals)
);
"""


@dataclass(frozen=True)
class Column:
    """A column as Glue keeps it: name, Hive type text (``int``, ``string``...), comment."""

    name: str
    type: str
    comment: str = ""

    def to_glue(self) -> dict:
        column = {"Name": self.name, "Type": self.type}
        if self.comment:
            column["Comment"] = self.comment
        return column


@dataclass(frozen=True)
class Table:
    """An external table: typed columns over the objects under ``location``."""

    database: str
    name: str
    columns: tuple[Column, ...]
    location: str
    format: str
    partition_keys: tuple[Column, ...] = ()
    serde_properties: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    comment: str = ""
    serde: str = ""
    input_format: str = ""
    output_format: str = ""
    create_time: float = 0.0

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InvalidRequestException(
                f"Table {self.name!r}: the query engine reads formats {sorted(FORMATS)}, "
                f"not {self.format!r}."
            )
        serde, input_format, output_format = FORMATS[self.format]
        for name, value in (
            ("serde", serde),
            ("input_format", input_format),
            ("output_format", output_format),
        ):
            if not getattr(self, name):
                object.__setattr__(self, name, value)
        names = [c.name for c in (*self.columns, *self.partition_keys)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidRequestException(
                f"Table {self.name!r} names column(s) {duplicates} more than once (partition keys "
                "count as columns)."
            )

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.columns, *self.partition_keys)

    def to_glue(self) -> dict:
        """The table as Glue's GetTable returns it."""
        return {
            "Name": self.name,
            "DatabaseName": self.database,
            "Description": self.comment,
            "CreateTime": self.create_time,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", **self.properties},
            "PartitionKeys": [c.to_glue() for c in self.partition_keys],
            "StorageDescriptor": {
                "Columns": [c.to_glue() for c in self.columns],
                "Location": self.location,
                "InputFormat": self.input_format,
                "OutputFormat": self.output_format,
                "SerdeInfo": {
                    "SerializationLibrary": self.serde,
                    "Parameters": dict(self.serde_properties),
                },
            },
        }

    def _to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def _from_json(cls, data: bytes) -> Table:
        raw = orjson.loads(data)
        raw["columns"] = tuple(Column(**c) for c in raw["columns"])
        raw["partition_keys"] = tuple(Column(**c) for c in raw["partition_keys"])
        return cls(**raw)


def format_of_serde(serde: str) -> str | None:
    """``"json"`` or ``"parquet"`` for a SerDe class the engine reads, else None."""
    return _SERDE_FORMATS.get(serde.lower())


@dataclass(frozen=True)
class Partition:
    """One partition of a table: its key values (text) and where its objects are."""

    values: tuple[str, ...]
    location: str
    create_time: float = 0.0

    def spec(self, keys: Sequence[Column]) -> str:
        """``year=2010/month=03``, as SHOW PARTITIONS prints it."""
        return "/".join(f"{k.name}={v}" for k, v in zip(keys, self.values, strict=True))


def _name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestException(f"A {kind} name must be non-empty text, got {name!r}.")
    return name.strip().lower()


class Catalog:
    """Databases, tables and partitions, durable in one SQLite file of the home.

    ``clock`` (a callable returning epoch seconds) stamps creation times; the workbench passes
    its clock so simulated time shows in the catalog.
    """

    def __init__(self, path: str | Path, clock=time.time) -> None:
        self._db = Database(Path(path), _SCHEMA)
        self._now = clock
        with self._db.write() as con:
            con.execute(
                "INSERT OR IGNORE INTO databases VALUES (?, ?, NULL, ?)",
                (DEFAULT_DATABASE, "Default Hive database", self._now()),
            )

    # -- databases -----------------------------------------------------------------------------
    def create_database(
        self,
        name: str,
        *,
        description: str = "",
        location_uri: str | None = None,
        exist_ok: bool = False,
    ) -> dict:
        """Create a database (AlreadyExistsException unless ``exist_ok``); returns its record."""
        name = _name("database", name)
        with self._db.write() as con:
            if con.execute("SELECT 1 FROM databases WHERE name=?", (name,)).fetchone():
                if not exist_ok:
                    raise AlreadyExistsException(f"Database {name!r} already exists.")
            else:
                con.execute(
                    "INSERT INTO databases VALUES (?, ?, ?, ?)",
                    (name, description, location_uri, self._now()),
                )
        return self.database(name)

    def database(self, name: str) -> dict:
        name = _name("database", name)
        with self._db.read() as con:
            row = con.execute("SELECT * FROM databases WHERE name=?", (name,)).fetchone()
        if row is None:
            raise EntityNotFoundException(
                f"Database {name!r} not found. Create it with CREATE DATABASE {name}."
            )
        return _database_dict(row)

    def databases(self) -> list[dict]:
        with self._db.read() as con:
            rows = con.execute("SELECT * FROM databases ORDER BY name").fetchall()
        return [_database_dict(r) for r in rows]

    def delete_database(self, name: str, *, cascade: bool = False) -> None:
        """Drop a database; with tables in it only when ``cascade`` (their objects stay)."""
        name = _name("database", name)
        self.database(name)
        with self._db.write() as con:
            tables = con.execute("SELECT name FROM tables WHERE database=?", (name,)).fetchall()
            if tables and not cascade:
                raise InvalidRequestException(
                    f"Database {name!r} is not empty: it holds {len(tables)} table(s). Drop them "
                    "first or use DROP DATABASE ... CASCADE."
                )
            for sql in ("tables WHERE database=?", "partitions WHERE database=?"):
                con.execute(f"DELETE FROM {sql}", (name,))
            con.execute("DELETE FROM databases WHERE name=?", (name,))

    # -- tables --------------------------------------------------------------------------------
    def create_table(self, table: Table, *, exist_ok: bool = False) -> None:
        """Register ``table`` (AlreadyExistsException unless ``exist_ok``)."""
        database, name = _name("database", table.database), _name("table", table.name)
        table = dataclasses.replace(
            table,
            database=database,
            name=name,
            create_time=table.create_time or self._now(),
        )
        self.database(database)
        with self._db.write() as con:
            found = con.execute(
                "SELECT 1 FROM tables WHERE database=? AND name=?", (database, name)
            ).fetchone()
            if found:
                if exist_ok:
                    return
                raise AlreadyExistsException(f"Table {database}.{name} already exists.")
            con.execute("INSERT INTO tables VALUES (?, ?, ?)", (database, name, table._to_json()))

    def table(self, database: str, name: str) -> Table:
        """The table ``database.name`` (EntityNotFoundException naming what is missing)."""
        database, name = _name("database", database), _name("table", name)
        with self._db.read() as con:
            row = con.execute(
                "SELECT definition FROM tables WHERE database=? AND name=?", (database, name)
            ).fetchone()
        if row is None:
            self.database(database)
            raise EntityNotFoundException(f"Table {database}.{name} not found.")
        return Table._from_json(row["definition"])

    def tables(self, database: str) -> list[Table]:
        database = _name("database", database)
        self.database(database)
        with self._db.read() as con:
            rows = con.execute(
                "SELECT definition FROM tables WHERE database=? ORDER BY name", (database,)
            ).fetchall()
        return [Table._from_json(r["definition"]) for r in rows]

    def delete_table(self, database: str, name: str) -> None:
        """Forget a table and its partitions; its objects in the lake stay, as in Athena."""
        table = self.table(database, name)
        with self._db.write() as con:
            con.execute(
                "DELETE FROM tables WHERE database=? AND name=?", (table.database, table.name)
            )
            con.execute(
                "DELETE FROM partitions WHERE database=? AND table_name=?",
                (table.database, table.name),
            )

    # -- partitions ----------------------------------------------------------------------------
    def add_partitions(
        self,
        database: str,
        table: str,
        partitions: Iterable[tuple[Sequence[str], str]],
        *,
        if_not_exists: bool = True,
    ) -> int:
        """Add partitions given as (values, location); returns how many were new.

        All or none are added: an existing partition without ``if_not_exists`` adds nothing.
        """
        definition = self.table(database, table)
        keys = definition.partition_keys
        rows = []
        for values, location in partitions:
            values = tuple(str(v) for v in values)
            if len(values) != len(keys):
                raise InvalidRequestException(
                    f"Table {definition.database}.{definition.name} is partitioned by "
                    f"{[k.name for k in keys]}; a partition must give a value for each, got "
                    f"{list(values)}."
                )
            rows.append((orjson.dumps(values).decode(), location))
        added = 0
        with self._db.write() as con:
            for vals, location in rows:
                cursor = con.execute(
                    "INSERT OR IGNORE INTO partitions VALUES (?, ?, ?, ?, ?)",
                    (definition.database, definition.name, vals, location, self._now()),
                )
                if cursor.rowcount == 0 and not if_not_exists:
                    raise AlreadyExistsException(
                        f"Partition {orjson.loads(vals)} of {definition.database}."
                        f"{definition.name} already exists; use ADD IF NOT EXISTS."
                    )
                added += cursor.rowcount
        return added

    def partitions(self, database: str, table: str) -> list[Partition]:
        definition = self.table(database, table)
        with self._db.read() as con:
            rows = con.execute(
                "SELECT vals, location, create_time FROM partitions "
                "WHERE database=? AND table_name=? ORDER BY vals",
                (definition.database, definition.name),
            ).fetchall()
        return [
            Partition(tuple(orjson.loads(r["vals"])), r["location"], r["create_time"]) for r in rows
        ]

    def delete_partitions(
        self, database: str, table: str, values: Iterable[Sequence[str]], *, if_exists: bool
    ) -> int:
        definition = self.table(database, table)
        removed = 0
        with self._db.write() as con:
            for vals in values:
                cursor = con.execute(
                    "DELETE FROM partitions WHERE database=? AND table_name=? AND vals=?",
                    (
                        definition.database,
                        definition.name,
                        orjson.dumps([str(v) for v in vals]).decode(),
                    ),
                )
                if cursor.rowcount == 0 and not if_exists:
                    raise EntityNotFoundException(
                        f"Partition {list(vals)} of {definition.database}.{definition.name} "
                        "not found."
                    )
                removed += cursor.rowcount
        return removed

    # -- Glue's API shapes (what boto3's glue client returns) -------------------------------------
    def get_database(self, name: str) -> dict:
        """GetDatabase: ``{"Database": {...}}``."""
        return {"Database": self.database(name)}

    def get_databases(self) -> dict:
        """GetDatabases: ``{"DatabaseList": [...]}``."""
        return {"DatabaseList": self.databases()}

    def get_table(self, database_name: str, name: str) -> dict:
        """GetTable: ``{"Table": {...}}`` with the StorageDescriptor, PartitionKeys..."""
        return {"Table": self.table(database_name, name).to_glue()}

    def get_tables(self, database_name: str) -> dict:
        """GetTables: ``{"TableList": [...]}``."""
        return {"TableList": [t.to_glue() for t in self.tables(database_name)]}

    def get_partitions(self, database_name: str, table_name: str) -> dict:
        """GetPartitions: ``{"Partitions": [{"Values", "StorageDescriptor": {"Location"}}...]}``."""
        return {
            "Partitions": [
                {
                    "Values": list(p.values),
                    "DatabaseName": database_name.lower(),
                    "TableName": table_name.lower(),
                    "CreationTime": p.create_time,
                    "StorageDescriptor": {"Location": p.location},
                }
                for p in self.partitions(database_name, table_name)
            ]
        }

    def __repr__(self) -> str:
        return f"Catalog({str(self._db.path)!r})"


def _database_dict(row) -> dict:
    database = {"Name": row["name"], "Description": row["description"]}
    if row["location_uri"]:
        database["LocationUri"] = row["location_uri"]
    database["CreateTime"] = row["create_time"]
    return database
