"""Kinesis Data Firehose: delivery streams that buffer, transform, partition and convert records
into the lake, exactly once.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01T10:00:00Z"))
>>> _ = wb.lake.create_bucket("lab")
>>> _ = wb.firehose.create_delivery_stream(
...     "retail", bucket="lab", prefix="json-data/year=!{timestamp:yyyy}/",
...     error_output_prefix="error-json/!{firehose:error-output-type}/")
>>> _ = wb.firehose.put_record_batch("retail", [b'{"Invoice": "1"}\\n', b'{"Invoice": "2"}\\n'])
>>> wb.firehose.delivery_stream("retail").flush()["delivered_records"]
2
>>> [o.key.split("retail-")[0] for o in wb.lake.list("s3://lab/json-data/")]
['json-data/year=2026/']
"""

from workbench.firehose._firehose import DeliveryStream, Firehose

__all__ = ["DeliveryStream", "Firehose"]
