"""Fixtures for the server room: moto's server, endpoints over each backend, boto3 clients.

Every server binds 127.0.0.1 on a free port and is stopped by the fixture that started it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _raw import free_port

from workbench import Workbench
from workbench.server import Endpoint, RemoteStreams


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def moto_server_command(port: int) -> list[str]:
    script = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    return [script, "-H", "127.0.0.1", "-p", str(port)]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's standalone server, shared by the session (tests use unique stream names)."""
    port = free_port()
    process = subprocess.Popen(
        moto_server_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def make_endpoint(tmp_path) -> Iterator[Callable[..., Endpoint]]:
    """Factory: ``make_endpoint(context=None, **options)`` starts an endpoint, stopped at exit.

    Without a context it serves a fresh workbench in ``tmp_path``.
    """
    started: list[Endpoint] = []

    def make(context=None, **options) -> Endpoint:
        endpoint = Endpoint(context or Workbench(home=tmp_path / "home"), **options)
        endpoint.start()
        started.append(endpoint)
        return endpoint

    yield make
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def endpoint(make_endpoint) -> Endpoint:
    """This endpoint over a fresh embedded workbench."""
    return make_endpoint()


@pytest.fixture
def proxy_endpoint(make_endpoint, moto_url) -> Endpoint:
    """This endpoint over the boto3 backend pointing at moto: requests cross the wire twice."""
    return make_endpoint(types.SimpleNamespace(streams=RemoteStreams.connect(moto_url)))


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Factory of stream names unique in the session (moto's server is shared)."""
    counter = iter(range(1_000_000))
    stamp = f"{time.time_ns() % 10**9}"
    return lambda prefix="s": f"{prefix}-{stamp}-{next(counter)}"
