"""Streaming Workbench: the Amazon Kinesis family re-created on one laptop, for notebooks.

>>> import workbench
>>> sorted(workbench.__all__)[:3]
['Clock', 'SimulatedClock', 'WallClock']
"""

from workbench._workbench import Workbench
from workbench.clock import Clock, SimulatedClock, WallClock

__version__ = "0.1.0"
__all__ = ["Clock", "SimulatedClock", "WallClock", "Workbench", "__version__"]
