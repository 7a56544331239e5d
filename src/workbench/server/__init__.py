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

from workbench.server._remote import RemoteStream, RemoteStreams
from workbench.server._runner import DEFAULT_HOST, DEFAULT_PORT, Endpoint, make_app

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Endpoint",
    "RemoteStream",
    "RemoteStreams",
    "make_app",
]
