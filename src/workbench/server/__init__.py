"""The AWS wire protocol for the workbench: boto3, the AWS CLI and the SDKs as clients.

``Endpoint(wb)`` serves Kinesis_20131202 and Firehose_20150804 (JSON 1.1 and CBOR, SigV4) on
127.0.0.1; ``wb.server`` is one for the notebook's workbench. ``RemoteStreams`` is the other
direction: the workbench's streams API on any Kinesis endpoint, AWS itself included.

>>> import tempfile, boto3
>>> from workbench import Workbench
>>> wb = Workbench(home=tempfile.mkdtemp())
>>> with wb.server as url:
...     kinesis = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
...                            aws_access_key_id="x", aws_secret_access_key="x")
...     try:
...         kinesis.describe_stream(StreamName="../etc")
...     except kinesis.exceptions.ClientError as error:
...         print(error.response["Error"]["Code"])
ValidationException
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.server._remote import RemoteStream, RemoteStreams
    from workbench.server._runner import (
        DEFAULT_HOST,
        DEFAULT_PORT,
        Endpoint,
        listening_socket,
        make_app,
    )

# Loaded on first use: the server (uvicorn, starlette) and botocore weigh a fifth of a second
# and tens of thousands of objects, which a workbench that never serves should not carry.
_HOMES = {
    "DEFAULT_HOST": "_runner",
    "DEFAULT_PORT": "_runner",
    "Endpoint": "_runner",
    "make_app": "_runner",
    "listening_socket": "_runner",
    "RemoteStream": "_remote",
    "RemoteStreams": "_remote",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Endpoint",
    "RemoteStream",
    "RemoteStreams",
    "listening_socket",
    "make_app",
]
