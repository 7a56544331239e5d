"""Simulated sources: retail (the lab's producer), clickstream, IoT sensors and Nexmark.

Each source is deterministic under a seed and gives the same events in every mode: an iterator
of records, a polars frame, JSON lines, or a producer writing into a stream. Call a source to
change its seed, start, clock, realism knobs (:class:`Knobs`) or model options.

>>> from workbench.sources import retail, nexmark, sensors
>>> retail.frame(3).columns[:4]
['Invoice', 'StockCode', 'Description', 'Quantity']
>>> nexmark(seed=1).frame(50)["event_type"].value_counts(sort=True).rows()
[('bid', 46), ('auction', 3), ('person', 1)]
>>> sensors(devices=3).frame(3)["device_id"].to_list()
['sensor-0000', 'sensor-0001', 'sensor-0002']
"""

from workbench.sources._clickstream import ClickstreamModel
from workbench.sources._knobs import MALFORMED_KINDS, Knobs, Rate
from workbench.sources._nexmark import NexmarkModel
from workbench.sources._producer import Producer
from workbench.sources._retail import RetailModel
from workbench.sources._sensors import SensorsModel
from workbench.sources._source import Source

retail = Source("retail", RetailModel, dict(RetailModel.defaults))
clickstream = Source(
    "clickstream",
    ClickstreamModel,
    dict(ClickstreamModel.defaults),
    knobs=Knobs(rate=Rate(100, shape="daily")),
)
sensors = Source("sensors", SensorsModel, dict(SensorsModel.defaults))
# Nexmark's watermark is date_time - 4 s: disorder asked for stays within it unless widened.
nexmark = Source("nexmark", NexmarkModel, dict(NexmarkModel.defaults), knobs=Knobs(max_delay="4s"))
SOURCES = {s.name: s for s in (retail, clickstream, sensors, nexmark)}

__all__ = [
    "MALFORMED_KINDS",
    "SOURCES",
    "Knobs",
    "Producer",
    "Rate",
    "Source",
    "clickstream",
    "nexmark",
    "retail",
    "sensors",
]
