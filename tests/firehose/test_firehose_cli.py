"""The firehose and lake commands of the workbench CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from workbench import Workbench
from workbench.cli import app


def test_firehose_and_lake_commands(tmp_path):
    wb = Workbench(tmp_path)
    wb.lake.create_bucket("lab")
    wb.firehose.create_delivery_stream("s", bucket="lab", prefix="raw/")
    wb.firehose.put_record_batch("s", [b'{"n": 1}\n', b'{"n": 2}\n'])
    runner = CliRunner()
    listed = runner.invoke(app, ["firehose", "--home", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "s (DirectPut, version 1)" in listed.output and "delivered 0 records" in listed.output
    delivered = runner.invoke(app, ["firehose", "s", "--deliver", "--home", str(tmp_path)])
    assert delivered.exit_code == 0, delivered.output
    assert "delivered 2 records in 1 objects" in delivered.output
    buckets = runner.invoke(app, ["lake", "--home", str(tmp_path)])
    assert "s3://lab/" in buckets.output
    tree = runner.invoke(app, ["lake", "s3://lab/raw/", "--home", str(tmp_path)])
    assert tree.exit_code == 0 and "s-1-" in tree.output
    produced = runner.invoke(
        app,
        ["produce", "retail", "--service-name", "firehose", "--stream", "s", "--max-count", "5",
         "--speed", "0", "--home", str(tmp_path)],
    )  # fmt: skip
    assert produced.exit_code == 0, produced.output
    assert Workbench(tmp_path).firehose.delivery_stream("s").flush()["delivered_records"] == 7
