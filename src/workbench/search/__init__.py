"""Search: OpenSearch's role in the lab's speed layer, on an embedded DuckDB index in the home.

>>> import tempfile
>>> from workbench import Workbench
>>> wb = Workbench(home=tempfile.mkdtemp())
>>> es = wb.search.client()
>>> es.index(index="retail", id="1", body={"Country": "France", "Quantity": 2})["result"]
'created'
>>> es.count(index="retail*", q="Country:france")["count"]
1
"""

from workbench.search._aggregations import auto_interval_ms
from workbench.search._client import SearchClient
from workbench.search._index import (
    IndexNotFoundException,
    InvalidIndexNameException,
    SearchIndices,
    VersionConflictEngineException,
)
from workbench.search._mapping import MapperParsingException
from workbench.search._query import QueryParsingException

__all__ = [
    "IndexNotFoundException",
    "InvalidIndexNameException",
    "MapperParsingException",
    "QueryParsingException",
    "SearchClient",
    "SearchIndices",
    "VersionConflictEngineException",
    "auto_interval_ms",
]
