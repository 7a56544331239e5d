"""The lake: S3-shaped buckets and objects addressed as ``s3://bucket/key``.

Stored as folders under ``<home>/lake/`` by default, or on any S3-compatible service; every
object appears whole or not at all. ``lake.filesystem`` is an fsspec filesystem for pyarrow and
polars; ``duckdb_connection(lake)`` is a DuckDB connection that reads and writes through it.

>>> import tempfile
>>> from workbench.lake import Lake
>>> lake = Lake.local(tempfile.mkdtemp())
>>> lake.create_bucket("retail-lake")
's3://retail-lake/'
>>> lake.list_buckets()
['retail-lake']
"""

from workbench.lake._athena import Athena, QueryResult
from workbench.lake._catalog import Catalog, Column, Partition, Table
from workbench.lake._duckdb_lake import duckdb_connection
from workbench.lake._lake import Lake, ObjectInfo
from workbench.lake._merge_small_files import MergeSmallFiles
from workbench.lake._retail_sample import write_retail_sample
from workbench.lake._schedule import HourlySchedule
from workbench.lake._uri import make_uri, parse_uri

__all__ = ["Lake", "ObjectInfo", "make_uri", "parse_uri"]
__all__ += [
    "Athena",
    "Catalog",
    "Column",
    "HourlySchedule",
    "MergeSmallFiles",
    "Partition",
    "QueryResult",
    "Table",
    "duckdb_connection",
    "write_retail_sample",
]
