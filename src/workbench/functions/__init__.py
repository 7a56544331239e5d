"""Stream functions: Python handlers in AWS Lambda's form, fed by data streams.

>>> import tempfile
>>> from workbench import SimulatedClock, Workbench
>>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
>>> stream = wb.streams.create_stream("retail-trans", shard_count=1)
>>> _ = stream.put_record(b'{"Quantity": 3}', "part-00001")
>>> seen = []
>>> def count(event, context):
...     seen.extend(event["Records"])
>>> mapping = wb.functions.create_event_source_mapping(
...     count, "retail-trans", starting_position="TRIM_HORIZON", batch_size=1000)
>>> mapping.poll(until_caught_up=True), mapping.metrics.invocations, len(seen)
(1, 1, 1)
>>> mapping.close()
"""

from workbench.functions._context import LambdaContext
from workbench.functions._functions import Functions
from workbench.functions._mapping import EventSourceMapping, MappingMetrics

__all__ = ["EventSourceMapping", "Functions", "LambdaContext", "MappingMetrics"]
