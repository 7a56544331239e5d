"""The Glue-like catalog: Athena DDL round trips, Glue-shaped records, durability."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lake.conftest import CREATE_TABLE
from workbench import SimulatedClock, Workbench
from workbench.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidRequestException,
)
from workbench.lake import Catalog, Column, Table

PARQUET_TABLE = """CREATE EXTERNAL TABLE events (`id` bigint COMMENT 'event id', `at` timestamp,
  `tags` array<string>, `amount` decimal(10,2))
COMMENT 'parquet events'
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 's3://retail-lab/events/'
TBLPROPERTIES ('parquet.compression'='SNAPPY', 'classification'='parquet')"""


@pytest.fixture
def wb(tmp_path):
    wb = Workbench(home=tmp_path / "home", clock=SimulatedClock(start="2026-01-01"))
    wb.lake.create_bucket("retail-lab")
    return wb


def test_the_labs_table_is_kept_as_glue_describes_it(wb):
    wb.athena.execute("CREATE DATABASE mydatabase")
    wb.athena.execute(CREATE_TABLE.format(bucket="retail-lab"))
    # Glue's GetTable, as Firehose's Parquet conversion reads a schema from the catalog.
    glue = wb.catalog.get_table(database_name="MyDatabase", name="RETAIL_TRANS_JSON")["Table"]
    descriptor = glue["StorageDescriptor"]
    assert glue["Name"] == "retail_trans_json" and glue["DatabaseName"] == "mydatabase"
    assert glue["TableType"] == "EXTERNAL_TABLE"
    assert descriptor["Columns"][0] == {
        "Name": "invoice",
        "Type": "string",
        "Comment": "Invoice number",
    }
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]][3:6] == [
        ("quantity", "int"),
        ("invoicedate", "timestamp"),
        ("price", "float"),
    ]
    assert [c["Name"] for c in glue["PartitionKeys"]] == ["year", "month", "day", "hour"]
    assert descriptor["Location"] == "s3://retail-lab/json-data"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat"
    listed = wb.catalog.get_tables("mydatabase")["TableList"]
    assert [t["Name"] for t in listed] == ["retail_trans_json"]
    wb.athena.execute(
        "ALTER TABLE mydatabase.retail_trans_json ADD PARTITION (year=2010, month=3, day=1, hour=2)"
    )
    (partition,) = wb.catalog.get_partitions("mydatabase", "retail_trans_json")["Partitions"]
    assert partition["Values"] == ["2010", "3", "1", "2"]
    location = "s3://retail-lab/json-data/year=2010/month=3/day=1/hour=2/"
    assert partition["StorageDescriptor"]["Location"] == location


def test_ddl_round_trips(wb):
    athena = wb.athena
    athena.execute("CREATE DATABASE IF NOT EXISTS analytics COMMENT 'team' LOCATION 's3://x/y/'")
    athena.execute("CREATE DATABASE IF NOT EXISTS analytics")
    with pytest.raises(AlreadyExistsException):
        athena.execute("CREATE DATABASE analytics")
    assert wb.catalog.get_database("analytics")["Database"]["Description"] == "team"
    names = athena.execute("SHOW DATABASES").to_arrow()["database_name"].to_pylist()
    assert names == ["analytics", "default"]
    assert athena.execute("SHOW SCHEMAS LIKE 'ana*'").to_arrow()["database_name"].to_pylist() == [
        "analytics"
    ]

    athena.database = "analytics"
    athena.execute(PARQUET_TABLE)
    table = wb.catalog.table("analytics", "events")
    assert table.format == "parquet" and table.comment == "parquet events"
    assert table.properties == {"parquet.compression": "SNAPPY", "classification": "parquet"}
    described = athena.execute("DESCRIBE events").to_arrow().to_pylist()
    assert described[:4] == [
        {"col_name": "id", "data_type": "bigint", "comment": "event id"},
        {"col_name": "at", "data_type": "timestamp", "comment": ""},
        {"col_name": "tags", "data_type": "array<string>", "comment": ""},
        {"col_name": "amount", "data_type": "decimal(10, 2)", "comment": ""},
    ]
    assert {"col_name": "dt", "data_type": "string", "comment": ""} in described

    athena.execute(
        "ALTER TABLE events ADD PARTITION (dt='2026-01-01') LOCATION 's3://retail-lab/e/1/' "
        "PARTITION (dt='2026-01-02')"
    )
    partitions = wb.catalog.partitions("analytics", "events")
    assert [(p.values, p.location) for p in partitions] == [
        (("2026-01-01",), "s3://retail-lab/e/1/"),
        (("2026-01-02",), "s3://retail-lab/events/dt=2026-01-02/"),
    ]
    with pytest.raises(InvalidRequestException, match="already exists"):
        athena.execute("ALTER TABLE events ADD PARTITION (dt='2026-01-01')")
    athena.execute("ALTER TABLE events ADD IF NOT EXISTS PARTITION (dt='2026-01-01')")
    athena.execute("ALTER TABLE events DROP PARTITION (dt='2026-01-02')")
    shown = athena.execute("SHOW PARTITIONS events").to_arrow()["partition"].to_pylist()
    assert shown == ["dt=2026-01-01"]
    with pytest.raises(InvalidRequestException, match="partitioned by"):
        athena.execute("ALTER TABLE events ADD PARTITION (day='1')")

    assert athena.execute("SHOW TABLES 'ev*'").to_arrow()["tab_name"].to_pylist() == ["events"]
    with pytest.raises(InvalidRequestException, match="not empty"):
        athena.execute("DROP DATABASE analytics")
    athena.execute("DROP TABLE events")
    athena.execute("DROP TABLE IF EXISTS events")
    with pytest.raises(EntityNotFoundException):
        athena.execute("DROP TABLE events")
    athena.execute(
        "CREATE EXTERNAL TABLE t2 (a int) STORED AS PARQUET LOCATION 's3://retail-lab/t/'"
    )
    athena.execute("DROP DATABASE analytics CASCADE")
    assert [d["Name"] for d in wb.catalog.get_databases()["DatabaseList"]] == ["default"]


def test_ctas_of_no_rows_creates_the_table_and_writes_nothing(wb):
    wb.athena.execute(
        "CREATE TABLE nothing WITH (external_location='s3://retail-lab/nothing/') AS "
        "SELECT 1 AS a, 'x' AS b WHERE false"
    )
    assert wb.lake.list("s3://retail-lab/nothing/") == []
    assert [c.name for c in wb.catalog.table("default", "nothing").columns] == ["a", "b"]
    assert wb.athena.execute("SELECT count(*) n FROM nothing").to_arrow()["n"].to_pylist() == [0]


def test_ctas_as_json_reads_back(wb):
    wb.athena.execute(
        "CREATE TABLE j WITH (external_location='s3://retail-lab/j/', format='JSON') AS "
        "SELECT x AS n, CAST(x AS varchar) AS s FROM UNNEST(sequence(1, 5)) AS t(x)"
    )
    assert wb.catalog.table("default", "j").format == "json"
    rows = wb.athena.execute("SELECT sum(n) total, max(s) top FROM j").to_arrow().to_pylist()
    assert rows == [{"total": 15, "top": "5"}]


def test_unsupported_formats_and_properties_are_named(wb):
    with pytest.raises(InvalidRequestException, match="ORC"):
        wb.athena.execute("CREATE TABLE o WITH (format='ORC') AS SELECT 1 AS a")
    with pytest.raises(InvalidRequestException, match="bucketed_by"):
        wb.athena.execute("CREATE TABLE o WITH (bucketed_by=ARRAY['a']) AS SELECT 1 AS a")
    with pytest.raises(InvalidRequestException, match="LOCATION"):
        wb.athena.execute("CREATE EXTERNAL TABLE o (a int) STORED AS PARQUET")
    with pytest.raises(InvalidRequestException, match="CREATE VIEW"):
        wb.athena.execute("CREATE VIEW v AS SELECT 1")


def test_table_definitions_are_checked(tmp_path):
    catalog = Catalog(tmp_path / "glue.sqlite")
    with pytest.raises(InvalidRequestException, match="more than once"):
        Table(
            database="default",
            name="t",
            columns=(Column("year", "int"),),
            partition_keys=(Column("year", "int"),),
            location="s3://b/t",
            format="json",
        )
    with pytest.raises(EntityNotFoundException, match="nope"):
        catalog.table("nope", "t")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(2009, 2011), st.integers(1, 12)), min_size=1, max_size=30))
def test_partitions_are_a_set_whatever_the_order_and_repeats(tmp_path_factory, added):
    catalog = Catalog(tmp_path_factory.mktemp("glue") / "glue.sqlite")
    catalog.create_table(
        Table(
            database="default",
            name="t",
            columns=(Column("a", "int"),),
            partition_keys=(Column("year", "int"), Column("month", "int")),
            location="s3://b/t",
            format="parquet",
        )
    )
    new = 0
    for year, month in added:
        new += catalog.add_partitions(
            "default", "t", [((str(year), f"{month:02d}"), f"s3://b/t/{year}/{month}/")]
        )
    listed = [p.values for p in catalog.partitions("default", "t")]
    assert new == len(listed) == len(set(added))
    assert sorted(listed) == sorted({(str(y), f"{m:02d}") for y, m in added})


@pytest.mark.parametrize(
    ("ddl", "database", "name"),
    [
        (CREATE_TABLE.format(bucket="retail-lab"), "mydatabase", "retail_trans_json"),
        (PARQUET_TABLE, "default", "events"),
    ],
)
def test_show_create_table_makes_the_same_table_again(wb, ddl, database, name):
    wb.athena.execute("CREATE DATABASE mydatabase")
    wb.athena.execute(ddl)
    before = wb.catalog.table(database, name)
    shown = wb.athena.execute(f"SHOW CREATE TABLE {database}.{name}")
    statement = "\n".join(shown.to_arrow()["createtab_stmt"].to_pylist())
    wb.athena.execute(f"DROP TABLE {database}.{name}")
    wb.athena.execute(statement)
    after = wb.catalog.table(database, name)
    assert dataclasses.replace(after, create_time=0) == dataclasses.replace(before, create_time=0)
