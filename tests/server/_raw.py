"""Hand-made HTTP requests for what boto3 refuses to send (malformed bodies, odd headers)."""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import botocore.config
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/x-amz-cbor-1.1"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


class Connection(http.client.HTTPConnection):
    """A keep-alive connection that sends small writes at once, as urllib3 (boto3) does;
    without TCP_NODELAY, Nagle and delayed ACKs add 40 ms to every request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        super().__init__(parts.hostname, parts.port, timeout=30)

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def signed_headers(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    key: str = "AKIDWORKBENCH",
    secret: str = "workbench-secret",
) -> dict[str, str]:
    """``headers`` plus a valid SigV4 Authorization and X-Amz-Date, from botocore's signer."""
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), "kinesis", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def post(
    url: str,
    body: bytes,
    *,
    target: str | None = "Kinesis_20131202.ListStreams",
    content_type: str | None = JSON_TYPE,
    sign: bool = True,
    extra: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    """POST ``body`` to ``url``; signed with dummy keys unless ``sign`` is false."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc}
    if target is not None:
        headers["X-Amz-Target"] = target
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    if sign:
        headers = signed_headers(url, body, headers)
    conn = connection or Connection(url)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        if connection is None:
            conn.close()


def client_factory(url: str, service: str = "kinesis", **options) -> object:
    """A boto3 client for ``url`` with dummy credentials and no retries (errors show at once)."""
    config = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, **options)
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="AKIDWORKBENCH",
        aws_secret_access_key="workbench-secret",
        config=config,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
