"""Kinesis Data Analytics on the workbench: continuous windowed queries on event time.

A query reads a source table (a data stream, a frame, another query's output) whose event-time
column and watermark delay are declared on it, groups rows into windows (tumbling, hopping,
cumulative, session per key, or a sliding RANGE per row), and emits each window's result once the
watermark passes its end plus the allowed lateness. Records behind the watermark go to a late
output. Write a query as Flink SQL with a window TVF, or in Python with polars expressions: one
engine runs both. See ``notebooks/05_windows_and_watermarks.ipynb``. Kinesis SQL's
``RANDOM_CUT_FOREST`` adds an ``ANOMALY_SCORE`` to each record (``create_sql_query`` with
``TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM ... FROM t), ...))``); see
``notebooks/06_anomalies.ipynb``.
"""

from workbench.analytics._anomaly import AnomalyScorer, random_cut_forest
from workbench.analytics._outputs import QueryOutput
from workbench.analytics._query import Query
from workbench.analytics._service import Analytics
from workbench.analytics._sinks import CallbackSink, FirehoseSink, LiveTable, Sink, StreamSink
from workbench.analytics._sources import ArraySource, Source, StreamSource
from workbench.analytics._table import EventTable
from workbench.analytics._windows import cumulate, hop, session, sliding, tumble

__all__ = [
    "Analytics",
    "AnomalyScorer",
    "ArraySource",
    "CallbackSink",
    "EventTable",
    "FirehoseSink",
    "LiveTable",
    "Query",
    "QueryOutput",
    "Sink",
    "Source",
    "StreamSink",
    "StreamSource",
    "cumulate",
    "hop",
    "random_cut_forest",
    "session",
    "sliding",
    "tumble",
]
