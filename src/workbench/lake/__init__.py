"""The lake: S3-shaped buckets and objects addressed as ``s3://bucket/key``.

Stored as folders under ``<home>/lake/`` by default, or on any S3-compatible service; every
object appears whole or not at all. ``lake.filesystem`` is an fsspec filesystem for DuckDB
(``duckdb.register_filesystem``), pyarrow and polars.

>>> import tempfile
>>> from workbench.lake import Lake
>>> lake = Lake.local(tempfile.mkdtemp())
>>> lake.create_bucket("retail-lake")
's3://retail-lake/'
>>> lake.list_buckets()
['retail-lake']
"""

from workbench.lake._lake import Lake, ObjectInfo
from workbench.lake._uri import make_uri, parse_uri

__all__ = ["Lake", "ObjectInfo", "make_uri", "parse_uri"]
