"""kill -9 while the catalog is being written: it opens again, with whole batches only."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.lake import Catalog

BATCH = 50
WRITER = """
import sys
from workbench.lake import Catalog, Column, Table
catalog = Catalog(sys.argv[1])
catalog.create_table(Table(database="default", name="t", columns=(Column("a", "int"),),
    partition_keys=(Column("n", "int"),), location="s3://b/t", format="parquet"), exist_ok=True)
start = len(catalog.partitions("default", "t"))
print("ready", flush=True)
for batch in range(start // {batch}, 10_000):
    catalog.add_partitions("default", "t", [((str(batch * {batch} + i),), f"s3://b/t/n={{i}}/")
                                            for i in range({batch})])
""".replace("{batch}", str(BATCH))


def test_a_killed_writer_leaves_only_whole_batches_of_partitions(tmp_path):
    path = tmp_path / "glue.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    rng = random.Random(5)
    seen = 0
    for _ in range(3):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, env=env
        )
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.2, 0.6))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        partitions = Catalog(path).partitions("default", "t")
        count = len(partitions)
        assert count % BATCH == 0 and count >= seen
        assert sorted(int(p.values[0]) for p in partitions) == list(range(count))
        seen = count
    assert seen > 0
