"""The one object a notebook holds: a home, a clock and the services built on them."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

from workbench._home import Home
from workbench.clock import Clock, WallClock

if TYPE_CHECKING:
    from workbench.analytics import Analytics
    from workbench.firehose import Firehose
    from workbench.functions import Functions
    from workbench.lake import Athena, Catalog, Lake
    from workbench.search import SearchIndices
    from workbench.server import Endpoint
    from workbench.streams import Streams
    from workbench.video import Video


class Workbench:
    """Kinesis, Firehose, Athena and friends on one laptop, rooted in a home folder.

    >>> import tempfile
    >>> from workbench import SimulatedClock
    >>> wb = Workbench(home=tempfile.mkdtemp(), clock=SimulatedClock(start="2026-01-01"))
    >>> wb.clock.advance("60s")
    >>> wb.clock.isoformat()
    '2026-01-01T00:01:00.000Z'

    The home defaults to ``$WORKBENCH_HOME`` or ``./workbench-data``. Opening the same home
    again, in this process or another, sees the same state.
    """

    def __init__(
        self, home: str | os.PathLike[str] | None = None, clock: Clock | None = None
    ) -> None:
        self.home = Home(home)
        self.clock: Clock = clock if clock is not None else WallClock()

    @cached_property
    def analytics(self) -> Analytics:
        """Kinesis Data Analytics: windowed continuous queries (:mod:`workbench.analytics`)."""
        from workbench.analytics import Analytics

        return Analytics(self)

    @cached_property
    def server(self) -> Endpoint:
        """The Kinesis/Firehose endpoint over this workbench: ``url = wb.server.start()``."""
        from workbench.server import Endpoint

        return Endpoint(self)

    @cached_property
    def lake(self) -> Lake:
        """S3-shaped buckets and objects (``s3://bucket/key``) in ``<home>/lake/`` or on S3."""
        from workbench.lake import Lake

        return Lake.for_home(self.home, self.clock)

    @cached_property
    def firehose(self) -> Firehose:
        """Delivery streams that buffer, transform and convert records into the lake."""
        from workbench.firehose import Firehose

        return Firehose(self)

    @cached_property
    def streams(self) -> Streams:
        """Kinesis Data Streams in this home (``<home>/streams/``); on a Kinesis endpoint
        instead (AWS itself, or ``$WORKBENCH_ENDPOINT_URL``) when ``$WORKBENCH_BACKEND=aws``."""
        from workbench.server._backend import remote_streams_if_configured
        from workbench.streams import Streams

        remote = remote_streams_if_configured()
        if remote is not None:
            return remote  # type: ignore[return-value]
        return Streams(self.home.service_dir("streams"), self.clock)

    @cached_property
    def video(self) -> Video:
        """Kinesis Video Streams: cameras, fragments, clips, images and detectors."""
        from workbench.video import Video

        return Video(self)

    @cached_property
    def search(self) -> SearchIndices:
        """The search indices (OpenSearch's role); ``wb.search.client()`` speaks opensearch-py."""
        from workbench.search import SearchIndices

        return SearchIndices(self.home.service_dir("search"), self.clock)

    @cached_property
    def functions(self) -> Functions:
        """Stream functions: Lambda handlers fed by data streams (event source mappings)."""
        from workbench.functions import Functions

        return Functions(self.home.service_dir("functions"), self.streams, self.clock)

    @cached_property
    def catalog(self) -> Catalog:
        """Glue's Data Catalog: databases, tables and partitions, in ``<home>/catalog/``."""
        from workbench.lake import Catalog

        return Catalog(self.home.service_dir("catalog") / "glue.sqlite", clock=self.clock.now)

    @cached_property
    def athena(self) -> Athena:
        """Athena: the lab's SQL over ``wb.catalog`` and ``wb.lake``, with a query history."""
        from workbench.lake import Athena

        return Athena(self.catalog, self.lake, self.clock, self.home.service_dir("catalog"))

    def __repr__(self) -> str:
        return f"Workbench(home={str(self.home.path)!r}, clock={self.clock!r})"
