"""Kinesis Data Streams on one laptop: durable sharded streams in the home folder.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> stream = wb.streams.create_stream("retail-trans", shard_count=4)
>>> stream.put_records([{"Data": b"hello", "PartitionKey": "a"}])["FailedRecordCount"]
0
"""

from workbench.streams._consumer import ConsumerApplication
from workbench.streams._iterators import ITERATOR_LIFETIME_MS, ITERATOR_TYPES
from workbench.streams._leases import LeaseLost
from workbench.streams._reader import Batch
from workbench.streams._records import ArrowRecords, PutRecordsAnswer
from workbench.streams._stream import Stream
from workbench.streams._streams import Streams
from workbench.streams._subscription import Subscription

__all__ = [
    "ITERATOR_LIFETIME_MS",
    "ITERATOR_TYPES",
    "ArrowRecords",
    "Batch",
    "ConsumerApplication",
    "LeaseLost",
    "PutRecordsAnswer",
    "Stream",
    "Streams",
    "Subscription",
]
