"""Which streams ``wb.streams`` is: the embedded engine, or a Kinesis endpoint (AWS itself,
LocalStack, moto, this workbench's own endpoint) when ``$WORKBENCH_BACKEND`` is ``aws``.

Kept apart from the remote client so that the embedded engine, the common case, loads neither
botocore nor the server.

>>> remote_streams_if_configured() is None  # $WORKBENCH_BACKEND unset
True
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench import errors

if TYPE_CHECKING:
    from workbench.server._remote import RemoteStreams

BACKEND_ENV = "WORKBENCH_BACKEND"
ENDPOINT_ENV = "WORKBENCH_ENDPOINT_URL"
BACKENDS = ("embedded", "aws")


def remote_streams_if_configured() -> RemoteStreams | None:
    """``RemoteStreams`` when ``$WORKBENCH_BACKEND`` is ``aws``; None for the embedded engine."""
    backend = os.environ.get(BACKEND_ENV, "embedded").strip().lower() or "embedded"
    if backend not in BACKENDS:
        raise errors.InvalidArgumentException(
            f"{BACKEND_ENV}={backend!r}: use one of {', '.join(BACKENDS)}."
        )
    if backend == "embedded":
        return None
    from workbench.server._remote import RemoteStreams

    return RemoteStreams.from_environment()
