from typer.testing import CliRunner

from workbench import Workbench
from workbench.cli import app


def test_streams_command_lists_streams_shards_and_records(tmp_path):
    stream = Workbench(home=tmp_path).streams.create_stream("retail-trans", 2)
    stream.put_record(b"x", "k", explicit_hash_key="0")
    result = CliRunner().invoke(app, ["streams", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "retail-trans: 2 open shards, 0 closed" in result.output
    assert "shardId-000000000000: 1 records" in result.output
    assert "shardId-000000000001: 0 records" in result.output
    assert str(tmp_path / "streams" / "retail-trans" / "shards") in result.output
