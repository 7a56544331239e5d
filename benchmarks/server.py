"""The Kinesis endpoint's throughput, side by side with kinesalite, moto's server and a
do-nothing endpoint (the client-side ceiling), all driven by the same boto3 clients.

    python benchmarks/server.py [--quick] [--json]

Two client processes each send PutRecords of 500 records of 100 bytes (``part-%05d`` keys) as
fast as boto3 allows, for a fixed time, to each target in turn; every target runs in its own
process on 127.0.0.1. kinesalite is installed with npm into a temporary folder at run time (it
is skipped, with null figures, when npm or the registry is not reachable).

This endpoint runs as ``workbench serve --workers 2``, a process per client (one process serves
one request at a time, so with one, a client whose request waits behind the other's leaves a
core idle), and beside it as one process.

Figures: records_per_s (this endpoint, two workers), kinesalite_records_per_s,
moto_server_records_per_s, ceiling_records_per_s, vs_kinesalite_ratio, vs_moto_server_ratio,
vs_ceiling_fraction; one_worker_records_per_s and one_worker_vs_ceiling_fraction (one process);
and the CPU each server spends per PutRecords request (server_cpu_ms_per_request for this
endpoint as one process, kinesalite_cpu_ms_per_request, moto_server_cpu_ms_per_request), which
the clients lose on these shared cores and which varies less than throughput on a busy machine.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import parse_args, report

CLIENTS = 2
BATCH = 500
RECORD_BYTES = 100
SHARDS = 4
STREAM = "bench"
KINESALITE_DIR = Path(tempfile.gettempdir()) / "workbench-bench-kinesalite"


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


@contextmanager
def running(command: list[str], port: int, **options) -> Iterator[tuple[str, int]]:
    """(URL, process id) of ``command`` serving on ``port``, stopped at exit."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options
    )
    try:
        wait_listening(port, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the targets --------------------------------------------------------------------------------


def this_endpoint(port: int, home: str, workers: int) -> list[str]:
    run = "from workbench.cli import main; main()"
    serve = ["serve", "--port", str(port), "--home", home, "--workers", str(workers)]
    return [sys.executable, "-c", run, *serve]


def moto_server(port: int) -> list[str]:
    script = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    return [script, "-H", "127.0.0.1", "-p", str(port)]


def kinesalite(port: int) -> list[str] | None:
    """kinesalite from npm, installed into a temporary folder (kept between runs)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None
    module = KINESALITE_DIR / "node_modules" / "kinesalite"
    if not module.exists():
        KINESALITE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(KINESALITE_DIR), "kinesalite", "--no-audit"],
            capture_output=True,
            timeout=300,
        )
        if done.returncode != 0:
            return None
    # Its command line listens on every interface; the module can be told 127.0.0.1.
    script = f"require({str(module)!r})({{createStreamMs: 0}}).listen({port}, '127.0.0.1')"
    return [node, "-e", script]


DO_NOTHING = """
import asyncio, sys
import orjson
body = orjson.dumps({"FailedRecordCount": 0, "Records": [
    {"SequenceNumber": "49000000000000000000000000000000000000000000000000000001",
     "ShardId": "shardId-000000000000"}] * int(sys.argv[2])})
head = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/x-amz-json-1.1\\r\\n"
        b"x-amzn-RequestId: 0\\r\\nContent-Length: " + b"%d\\r\\n\\r\\n" % len(body))

class Nothing(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            headers, _, rest = self.buffer.partition(b"\\r\\n\\r\\n")
            length = 0
            for line in headers.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(head + body)

async def main():
    server = await asyncio.get_running_loop().create_server(Nothing, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()

asyncio.run(main())
"""


def do_nothing(port: int) -> list[str]:
    """Answers every request at once with a canned PutRecords answer, reading nothing."""
    return [sys.executable, "-c", DO_NOTHING, str(port), str(BATCH)]


# -- the clients --------------------------------------------------------------------------------


def _client(url: str):
    import boto3
    import botocore.config

    return boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench",
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _produce(url: str, seconds: float, worker: int, start, results) -> None:
    client = _client(url)
    records = [
        {"Data": bytes([65 + worker]) * RECORD_BYTES, "PartitionKey": f"part-{i:05d}"}
        for i in range(BATCH)
    ]
    client.put_records(StreamName=STREAM, Records=records)  # connection and warm-up
    start.wait()
    sent = failed = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        answer = client.put_records(StreamName=STREAM, Records=records)
        sent += BATCH
        failed += answer["FailedRecordCount"]
    results.put((sent - failed, failed, time.perf_counter() - began))


def create_stream(url: str) -> None:
    client = _client(url)
    client.create_stream(StreamName=STREAM, ShardCount=SHARDS)
    client.get_waiter("stream_exists").wait(
        StreamName=STREAM, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )


def measure(url: str, seconds: float) -> tuple[int, int, float]:
    """(records accepted, records refused, seconds) of CLIENTS processes sending to ``url``."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(CLIENTS + 1), context.Queue()
    workers = [
        context.Process(target=_produce, args=(url, seconds, w, start, results))
        for w in range(CLIENTS)
    ]
    for worker in workers:
        worker.start()
    start.wait()
    outcomes = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(o[0] for o in outcomes), sum(o[1] for o in outcomes), max(o[2] for o in outcomes)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    # Short rounds, taking the targets in turn, so that a change in the machine's load (other
    # work on the same cores) weighs on every target alike instead of on whichever ran then.
    rounds, seconds = (3, 2.0) if args.quick else (6, 5.0)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    totals: dict[str, list[float]] = {}  # records accepted, refused, seconds, server CPU s
    with tempfile.TemporaryDirectory(prefix="wb-bench-server-") as home, ExitStack() as stack:
        urls: dict[str, str] = {}
        pids: dict[str, int] = {}
        # The endpoint as `workbench serve --workers 2` (a process per client: each serves one
        # request at a time) and as one process, on homes of their own.
        commands = {
            "endpoint": lambda port: this_endpoint(port, f"{home}/workers", CLIENTS),
            "endpoint_one_worker": lambda port: this_endpoint(port, f"{home}/one", 1),
            "kinesalite": kinesalite,
            "moto_server": moto_server,
            "ceiling": do_nothing,
        }
        for name, command_for in commands.items():
            port = free_port()
            command = command_for(port)
            if command is None:  # kinesalite without npm
                continue
            options = {"env": env} if name.startswith("endpoint") else {}
            urls[name], pids[name] = stack.enter_context(running(command, port, **options))
            if name != "ceiling":
                create_stream(urls[name])
            totals[name] = [0, 0, 0.0, 0.0]
        for _ in range(rounds):
            for name, url in urls.items():
                cpu = cpu_seconds(pids[name])
                accepted, refused, elapsed = measure(url, seconds)
                totals[name][3] += cpu_seconds(pids[name]) - cpu
                totals[name][0] += accepted
                totals[name][1] += refused
                totals[name][2] += elapsed
    rates = {name: total[0] / total[2] for name, total in totals.items()}
    rates.setdefault("kinesalite", None)
    # Server CPU per request (each client's warm-up put included): what each server takes
    # from the clients on these shared cores.
    requests = {name: total[0] / BATCH + rounds * CLIENTS for name, total in totals.items()}
    cpu_ms = {name: 1000 * total[3] / requests[name] for name, total in totals.items()}

    ours = rates["endpoint"]
    figures = {
        "records_per_s": round(ours),
        "kinesalite_records_per_s": rates["kinesalite"] and round(rates["kinesalite"]),
        "moto_server_records_per_s": round(rates["moto_server"]),
        "ceiling_records_per_s": round(rates["ceiling"]),
        "vs_kinesalite_ratio": rates["kinesalite"] and round(ours / rates["kinesalite"], 2),
        "vs_moto_server_ratio": round(ours / rates["moto_server"], 2),
        "vs_ceiling_fraction": round(ours / rates["ceiling"], 3),
        "one_worker_records_per_s": round(rates["endpoint_one_worker"]),
        "one_worker_vs_ceiling_fraction": round(rates["endpoint_one_worker"] / rates["ceiling"], 3),
        "clients": CLIENTS,
        "seconds_per_target": rounds * seconds,
        "records_refused_by_endpoint": int(totals["endpoint"][1]),
        "server_cpu_ms_per_request": round(cpu_ms["endpoint_one_worker"], 2),
        "kinesalite_cpu_ms_per_request": round(cpu_ms["kinesalite"], 2)
        if "kinesalite" in cpu_ms
        else None,
        "moto_server_cpu_ms_per_request": round(cpu_ms["moto_server"], 2),
    }
    rows = [
        (f"{name} (PutRecords 500 x 100 B, {CLIENTS} boto3 processes)", rate or 0.0, "records/s")
        for name, rate in rates.items()
    ]
    report("Kinesis endpoints side by side", rows, figures, args.json)


if __name__ == "__main__":
    main()
