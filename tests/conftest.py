"""Fixtures shared by several rooms' tests."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples every run, so a landing never hangs on a newly drawn case;
# developers' runs keep drawing new ones (and keep what fails in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """The URL of a moto server (S3, Kinesis, Firehose) on loopback, for this test session.

    Started once and stopped at the end; credentials are moto's dummies, set in the environment
    for the session's boto3 / s3fs clients.
    """
    port = _free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if exe is None:
        pytest.fail("moto_server is not installed: pip install 'moto[server]'")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def processes():
    """A multiprocessing context for child processes that tests kill or race.

    Children fork from a fresh single-threaded server that has imported workbench, never from
    the test process itself: a fork of a process running DuckDB, Arrow or polars threads can
    leave the child with a lock held by a thread that no longer exists, and it crashes.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["workbench"])
    return context


@pytest.fixture
def chromium():
    """How Playwright launches Debian's Chromium here (it cannot download its own browser):
    ``p.chromium.launch(**chromium)``. Skips when Chromium is not installed (.ci/run installs it).
    """
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    # Without the background-networking flags Chromium keeps calling out from this closed
    # network; the sandbox needs privileges CI does not have as root.
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    return {"executable_path": executable, "args": args}
