"""Across processes: 2 producers and 2 consumer workers of one application over 4 shards.

Every acknowledged record is processed, also when one worker is killed with SIGKILL and the
other takes its leases over after the lease timeout.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from workbench import Workbench

SRC = str(Path(__file__).resolve().parents[2] / "src")

PRODUCER = textwrap.dedent(
    """
    import sys, time
    from workbench import Workbench
    home, me, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    stream = Workbench(home=home).streams.stream("orders")
    with open(out, "a") as acked:
        for start in range(0, count, 50):
            batch = [f"{me}:{n}" for n in range(start, start + 50)]
            answer = stream.put_records(
                [{"Data": d.encode(), "PartitionKey": f"{me}-{n % 16}"} for n, d in
                 zip(range(start, start + 50), batch)]
            )
            assert answer["FailedRecordCount"] == 0
            acked.write("".join(d + "\\n" for d in batch))
            acked.flush()
            time.sleep(0.03)
    """
)

WORKER = textwrap.dedent(
    """
    import os, sys
    from workbench import Workbench
    home, me, out, stop = sys.argv[1:5]
    app = Workbench(home=home).streams.consumer(
        "orders", "billing", worker_id=me, lease_timeout=1.0
    )
    with open(out, "a") as processed:
        def handle(batch):
            processed.write("".join(r["Data"].decode() + "\\n" for r in batch.records))
            processed.flush()  # in the OS before the checkpoint that follows
        while not os.path.exists(stop):
            app.run(handle, duration=0.2)
    app.close()
    """
)


def spawn(code, *args):
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env)


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def owners(app):
    return {lease["leaseOwner"] for lease in app.leases()}


def test_two_workers_process_every_record_also_when_one_is_killed(tmp_path):
    home = tmp_path / "home"
    wb = Workbench(home=home)
    wb.streams.create_stream("orders", 4)
    stop = tmp_path / "stop"
    out = {w: tmp_path / f"processed-{w}.txt" for w in ("doomed", "survivor")}
    workers = {w: spawn(WORKER, home, w, out[w], stop) for w in out}
    acked = [tmp_path / f"acked-{p}.txt" for p in ("p1", "p2")]
    producers = []
    app = wb.streams.consumer("orders", "billing")  # only to look at the lease table
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not {"doomed", "survivor"} <= owners(app):
            time.sleep(0.05)
        assert {"doomed", "survivor"} <= owners(app), "both workers should hold leases first"
        producers = [spawn(PRODUCER, home, f"p{i}", 3000, a) for i, a in enumerate(acked)]
        while time.monotonic() < deadline and not lines(out["doomed"]):
            time.sleep(0.01)
        assert all(p.poll() is None for p in producers), "kill while records still come"
        workers["doomed"].send_signal(signal.SIGKILL)
        workers["doomed"].wait()
        for producer in producers:
            assert producer.wait(timeout=60) == 0
        everything = {line for path in acked for line in lines(path)}
        assert len(everything) == 6000
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            processed = {line for path in out.values() for line in lines(path)}
            if everything <= processed:
                break
            time.sleep(0.1)
        assert everything <= processed, f"{len(everything - processed)} records never processed"
        stop.touch()
        assert workers["survivor"].wait(timeout=30) == 0
        leases = app.leases()
        # The survivor took the dead worker's shards over and finished them.
        assert len(leases) == 4 and all(lease["leaseOwner"] is None for lease in leases)
        assert all(lease["checkpoint"].isdigit() for lease in leases)
    finally:
        for proc in [*workers.values(), *producers]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
