"""The lab's MergeSmallFiles job: an hour of small JSON objects compacted into Snappy Parquet.

As the lab's Lambda does, with Athena statements a learner can read in :meth:`statements`:
``ALTER TABLE ... ADD IF NOT EXISTS PARTITION`` registers the hour on the JSON table, a CTAS with
``format='PARQUET', parquet_compression='SNAPPY'`` writes the hour into
``parquet-retail-trans/year=YYYY/month=MM/day=DD/hour=HH/`` through a temporary table, the
temporary table is dropped, and the hour is added as a partition of the target table
``ctas_retail_trans_parquet``. A re-run of a merged hour (its folder is not empty) only makes
sure the partitions are registered, so a job killed half-way can simply run again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from workbench.clock import parse_instant
from workbench.errors import EntityNotFoundException
from workbench.lake._scan import folder
from workbench.lake._schedule import HourlySchedule

TARGET_TABLE = "ctas_retail_trans_parquet"


class MergeSmallFiles:
    """Compact one hour of the JSON table into the Parquet table, hour after hour.

    >>> import tempfile
    >>> from workbench import Workbench, SimulatedClock
    >>> from workbench.lake import write_retail_sample
    >>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2010-03-01T11:05Z"))
    >>> _ = wb.lake.create_bucket("lab")
    >>> _ = write_retail_sample(wb.lake, "s3://lab/json-data/", rows=500, start="2010-03-01 10:00",
    ...                         hours=1)
    >>> for sql in MergeSmallFiles.lab_setup("lab"):
    ...     _ = wb.athena.execute(sql)
    >>> job = MergeSmallFiles(wb.athena, bucket="lab")
    >>> job.run("2010-03-01T10:00Z")["rows"]
    500
    """

    def __init__(
        self,
        athena,
        *,
        bucket: str,
        database: str = "mydatabase",
        source_table: str = "retail_trans_json",
        target_table: str = TARGET_TABLE,
        source_prefix: str = "json-data",
        output_prefix: str = "parquet-retail-trans",
    ) -> None:
        self.athena = athena
        self.database = database
        self.source_table = source_table
        self.target_table = target_table
        self.source_location = f"s3://{bucket}/{source_prefix.strip('/')}"
        self.output_location = f"s3://{bucket}/{output_prefix.strip('/')}"

    @staticmethod
    def lab_setup(bucket: str, database: str = "mydatabase") -> list[str]:
        """The lab's DDL for the JSON table and the Parquet target table."""
        columns = """(
  `invoice` string, `stockcode` string, `description` string, `quantity` int,
  `invoicedate` timestamp, `price` float, `customer_id` string, `country` string)
PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int)"""
        return [
            f"CREATE DATABASE IF NOT EXISTS {database}",
            f"""CREATE EXTERNAL TABLE IF NOT EXISTS `{database}.retail_trans_json`{columns}
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.IgnoreKeyTextOutputFormat'
LOCATION 's3://{bucket}/json-data'""",
            f"""CREATE EXTERNAL TABLE IF NOT EXISTS `{database}.{TARGET_TABLE}`{columns}
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://{bucket}/parquet-retail-trans'
TBLPROPERTIES ('has_encrypted_data'='false', 'parquet.compression'='SNAPPY')""",
        ]

    def _columns(self) -> str:
        table = self.athena.catalog.table(self.database, self.source_table)
        return ", ".join(c.name for c in table.columns)

    def statements(self, hour: datetime) -> list[str]:
        """The Athena statements that merge ``hour``, in order."""
        spec = f"year={hour.year}, month={hour.month}, day={hour.day}, hour={hour.hour}"
        path = f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}/"
        temporary = f"{self.database}.tmp_{self.target_table}"
        return [
            f"ALTER TABLE {self.database}.{self.source_table} ADD IF NOT EXISTS PARTITION "
            f"({spec}) LOCATION '{self.source_location}/{path}'",
            f"DROP TABLE IF EXISTS {temporary}",
            f"CREATE TABLE {temporary} WITH (external_location='{self.output_location}/{path}', "
            f"format='PARQUET', parquet_compression='SNAPPY') AS SELECT {self._columns()} "
            f"FROM {self.database}.{self.source_table} WHERE year={hour.year} AND "
            f"month={hour.month} AND day={hour.day} AND hour={hour.hour}",
            f"DROP TABLE IF EXISTS {temporary}",
            f"ALTER TABLE {self.database}.{self.target_table} ADD IF NOT EXISTS PARTITION "
            f"({spec}) LOCATION '{self.output_location}/{path}'",
        ]

    def run(self, hour: datetime | str | float | None = None) -> dict:
        """Merge ``hour`` (default: the hour before the clock's current one).

        Returns the hour, the rows written and the Parquet location.
        """
        if hour is None:
            now = self.athena.clock.now()
            hour = now - now % 3600 - 3600
        when = datetime.fromtimestamp(parse_instant(hour), UTC).replace(
            minute=0, second=0, microsecond=0
        )
        try:
            self.athena.catalog.table(self.database, self.target_table)
        except EntityNotFoundException:
            raise EntityNotFoundException(
                f"The target table {self.database}.{self.target_table} does not exist: create "
                "it first (MergeSmallFiles.lab_setup(bucket) gives the lab's DDL)."
            ) from None
        alter_source, drop_before, ctas, drop_after, alter_target = self.statements(when)
        location = folder(f"{self.output_location}/{when:year=%Y/month=%m/day=%d/hour=%H}")
        rows = 0
        self.athena.execute(alter_source)
        if not self.athena.lake.list(location):
            self.athena.execute(drop_before)
            rows = self.athena.execute(ctas).to_arrow()["rows"][0].as_py()
            self.athena.execute(drop_after)
        self.athena.execute(alter_target)
        return {"hour": when, "rows": rows, "location": location}

    def schedule(self, *, minute: int = 5) -> HourlySchedule:
        """This job hourly at ``minute`` on the workbench clock (start/stop or run_due)."""
        state = self.athena.state_dir / f"merge-small-files-{self.target_table}.json"
        return HourlySchedule(self.athena.clock, self.run, state, minute=minute)

    def __repr__(self) -> str:
        return (
            f"MergeSmallFiles({self.database}.{self.source_table} -> "
            f"{self.database}.{self.target_table} at {self.output_location})"
        )
